"""What SendGrid's answer to a ``mail/send`` request means for the batch (how each failure
is sorted is listed in :mod:`.sendgrid`'s docstring): retry later, a refused key that halts
sending, a body too large (split it), recipients refused by index, or a permanent error.
"""

from __future__ import annotations

import json
import logging
import re
import time

from python_http_client.exceptions import HTTPError as SendGridHTTPError

from .base import ProviderError
from .retry import Retryable
from .sendgrid_payload import PayloadTooLarge

log = logging.getLogger(__name__)

#: An error ``field`` that names one personalization: ``personalizations.3``, ``...3.to.0.email``.
_PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)(?:\.|$)")


class RecipientsRefused(ProviderError):
    """HTTP 400 naming personalizations: index in the request -> SendGrid's reason."""

    def __init__(self, message: str, reasons: dict[int, str]):
        super().__init__(message, permanent=True)
        self.reasons = reasons


def classify_http_error(exc: SendGridHTTPError, what: str) -> Exception:
    status = int(exc.status_code)
    detail = _error_detail(exc.body)
    if status == 429 or status >= 500:
        return Retryable(f"HTTP {status}: {detail}", retry_after=_retry_after(exc.headers))
    if status in (401, 403):
        return ProviderError(
            f"SendGrid refused the API key (HTTP {status}: {detail}); nothing was sent. Check "
            "SENDGRID_API_KEY (and that the key may send mail), then run 'digest send' again",
            permanent=True, halt=True,
        )
    if status == 413:
        return PayloadTooLarge(f"SendGrid answered HTTP 413 (request too large): {detail}")
    if status == 400:
        reasons = _refused_recipients(exc.body)
        if reasons:
            return RecipientsRefused(f"{what}: SendGrid refused {len(reasons)} recipient(s)", reasons)
    log.error("%s refused by SendGrid: HTTP %s: %s", what, status, detail)
    return ProviderError(f"{what}: SendGrid refused it: HTTP {status}: {detail}", permanent=True)


def _refused_recipients(body: bytes | str | None) -> dict[int, str]:
    """Personalization index -> reason, when every error of a 400 names one; else empty
    (an error about the request itself fails the whole request)."""
    try:
        errors = json.loads(body or b"").get("errors") or []
    except (ValueError, AttributeError):
        return {}
    reasons: dict[int, str] = {}
    for error in errors:
        match = _PERSONALIZATION_FIELD.match(str(error.get("field") or "")) if isinstance(error, dict) else None
        if match is None:
            return {}
        reasons.setdefault(int(match.group(1)),
                           f"SendGrid refused this recipient: HTTP 400: {error.get('field')}: {error.get('message')}")
    return reasons


def _error_detail(body: bytes | str | None) -> str:
    """SendGrid's ``{"errors": [{"message", "field", "help"}]}`` as one line."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return "(no body)"
    try:
        errors = json.loads(body).get("errors") or []
        parts = [
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in errors
            if isinstance(e, dict)
        ]
        if parts:
            return "; ".join(parts)
    except (ValueError, AttributeError):
        pass
    return body[:500]


def _retry_after(headers) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (a Unix time), or ``Retry-After`` seconds."""
    if headers is None:
        return None
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    return None
