"""``POST /webhooks/sendgrid``: SendGrid's Signed Event Webhook.

Before the body is read, the key must be configured and both signature headers present
and well-formed (else 403, closing the connection); the body's size is bounded by
:mod:`digest.web.body_limits`. The signature is then checked over the raw body before
anything is parsed; a bad signature gets 403 and changes nothing. Without
``SENDGRID_WEBHOOK_PUBLIC_KEY`` every post is refused (an unsigned endpoint would let
anyone unsubscribe anyone) and the configuration error is logged once, not once per
post. A verified post answers 200 as soon as its events are stored, since SendGrid
retries anything else.
"""

from __future__ import annotations

import json
import logging
import threading

from cryptography.hazmat.primitives.asymmetric import ec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import ConfigError
from .context import context
from .sendgrid_events import record_events
from .signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, headers_well_formed, load_public_key, verify_signature

log = logging.getLogger(__name__)


class WebhookKey:
    """The verification key, parsed once; a missing or broken key is logged once."""

    def __init__(self, configured: str | None):
        self._configured = configured
        self._key: ec.EllipticCurvePublicKey | None = None
        self._problem: str | None = None
        self._reported = False
        self._lock = threading.Lock()
        if not configured:
            self._problem = (
                "SENDGRID_WEBHOOK_PUBLIC_KEY is not set: refusing SendGrid event posts. Turn on "
                "the Signed Event Webhook in SendGrid and set its verification key."
            )
        else:
            try:
                self._key = load_public_key(configured)
            except ConfigError as exc:
                self._problem = f"{exc}; refusing SendGrid event posts"

    def get(self) -> ec.EllipticCurvePublicKey | None:
        if self._key is None:
            with self._lock:
                if not self._reported:
                    self._reported = True
                    log.error("configuration error: %s", self._problem)
        return self._key


def _forbidden(reason: str, *, close: bool = False) -> JSONResponse:
    """403; ``close`` for a refusal before the body was read, so its sender stops sending."""
    return JSONResponse({"error": reason}, status_code=403, headers={"connection": "close"} if close else None)


async def sendgrid_events(request: Request) -> Response:
    ctx = context(request)
    key = request.app.state.webhook_key.get()
    if key is None:
        return _forbidden("webhook verification key not configured", close=True)
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not headers_well_formed(signature, timestamp):
        log.warning("refused a SendGrid event post: signature headers missing or malformed")
        return _forbidden("missing or malformed signature headers", close=True)
    body = await request.body()
    if not verify_signature(key, body, signature, timestamp):
        log.warning("refused a SendGrid event post: missing or invalid signature")
        return _forbidden("invalid signature")
    try:
        events = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    if not isinstance(events, list):
        return JSONResponse({"error": "expected a JSON array of events"}, status_code=400)
    counts = await run_in_threadpool(record_events, ctx.runtime, events)
    log.info("sendgrid events: %s", dict(counts))
    return JSONResponse({"received": len(events), **counts})
