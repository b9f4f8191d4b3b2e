"""The SendGrid v3 ``mail/send`` JSON for one batch: one request, one personalization
per recipient.

Built as a plain dict (the documented wire format) rather than with sendgrid-python's
helper classes, so what we send is exactly what tests read back. The limits checked
here are SendGrid's documented ones; breaking them is a bug or an oversized body, never
something a retry fixes, so each raises a permanent :class:`ProviderError`.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...settings import PublicationConfig, Tracking
from .base import OutgoingBatch, ProviderError

MAX_PERSONALIZATIONS = 1000  # also SendGrid's limit on recipients (to + cc + bcc) per request
#: SendGrid's limit is 30 MB per request; we stay under it in decimal megabytes.
MAX_REQUEST_BYTES = 30_000_000
#: Headers SendGrid sets itself or takes from dedicated fields; sending them in
#: ``headers`` is a 400.
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id", "x-sg-eid", "received", "dkim-signature", "Content-Type",
        "Content-Transfer-Encoding", "To", "From", "Subject", "Reply-To", "CC", "BCC",
    )
)


def build_payload(batch: OutgoingBatch, config: PublicationConfig) -> dict[str, Any]:
    """The request body for ``batch``; raises :class:`ProviderError` (permanent) when it
    would break one of SendGrid's per-request rules."""
    _check_recipients(batch)
    pub = config.publication
    shared = dict(batch.headers)
    reply_to = shared.pop("Reply-To", None) or pub.reply_to
    edition = {"edition_id": str(batch.edition_id), "edition_date": batch.edition_date.isoformat(),
               "batch_id": str(batch.batch_id)}

    # Per-recipient parts, the same shape for every recipient: header names checked and
    # substitution keys built once per batch, not once per recipient (a million-reader
    # edition builds a million of these); a recipient built with its substitutions (the
    # send path) and its headers as a dict gives them as they are: the request is encoded
    # at once and nothing changes them.
    keys = {name: f"%%{name}%%" for r in batch.recipients[:1] for name in r.tokens}
    header_names = {name for r in batch.recipients for name in r.headers}
    _checked_headers(dict.fromkeys(header_names, ""))
    payload: dict[str, Any] = {
        "from": {"email": pub.from_address, "name": pub.from_name or pub.name},
        "subject": batch.body.subject,
        # SendGrid requires text/plain first, then text/html.
        "content": [
            {"type": "text/plain", "value": batch.body.text},
            {"type": "text/html", "value": batch.body.html},
        ],
        "personalizations": [
            {
                "to": [{"email": r.email}],
                "substitutions": r.substitutions if r.substitutions is not None else
                {keys.get(name) or f"%%{name}%%": str(value) for name, value in r.tokens.items()},
                "headers": r.headers if type(r.headers) is dict else dict(r.headers),
                "custom_args": {"delivery_id": str(r.delivery_id), "subscriber_id": str(r.subscriber_id)},
            }
            for r in batch.recipients
        ],
        "categories": ["digest", f"edition-{batch.edition_date.isoformat()}"],
        "custom_args": edition,
    }
    tracking = NO_TRACKING if batch.transactional else tracking_settings(config.tracking)
    if tracking:
        payload["tracking_settings"] = tracking
    if reply_to:
        payload["reply_to"] = {"email": reply_to}
    if shared:
        payload["headers"] = _checked_headers(shared)
    return payload


#: A transactional message (a confirmation, a welcome) is never tracked, whatever ``[tracking]`` says.
NO_TRACKING = {"click_tracking": {"enable": False, "enable_text": False}, "open_tracking": {"enable": False}}


def tracking_settings(tracking: Tracking) -> dict[str, Any]:
    """The request's ``tracking_settings`` for ``[tracking]``: only what the config sets."""
    settings: dict[str, Any] = {}
    if tracking.click is not None:
        settings["click_tracking"] = {"enable": tracking.click, "enable_text": tracking.click}
    if tracking.open is not None:
        settings["open_tracking"] = {"enable": tracking.open}
    # UTM parameters are not asked of SendGrid (its ganalytics): the renderer puts them in
    # the item links itself, so previews and proofs show links as sent (digest.utm).
    return settings


class PayloadTooLarge(ProviderError):
    """The request is over SendGrid's size limit (found here, or answered HTTP 413): the
    provider sends the batch in smaller parts instead."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The bytes sent on the wire (UTF-8 JSON, by orjson: a fifth of the send path's time
    went to the standard library's encoder), checked against the 30 MB limit."""
    data = orjson.dumps(payload)
    if len(data) >= MAX_REQUEST_BYTES:
        raise PayloadTooLarge(
            f"SendGrid request would be {len(data) / 1e6:.1f} MB, over the 30 MB limit "
            f"({len(payload.get('personalizations', []))} recipients)"
        )
    return data


def _check_recipients(batch: OutgoingBatch) -> None:
    count = len(batch.recipients)
    if not 1 <= count <= MAX_PERSONALIZATIONS:
        raise ProviderError(
            f"batch {batch.batch_id} has {count} recipients; SendGrid takes 1 to "
            f"{MAX_PERSONALIZATIONS} per request",
            permanent=True,
        )
    seen: set[str] = set()
    for r in batch.recipients:
        key = r.email.strip().lower()
        if key in seen:
            raise ProviderError(
                f"batch {batch.batch_id} lists {r.email} more than once; SendGrid accepts each "
                "address once per request",
                permanent=True,
            )
        seen.add(key)


def _checked_headers(headers: dict[str, str] | Any) -> dict[str, str]:
    bad = [name for name in headers if name.lower() in RESERVED_HEADERS]
    if bad:
        raise ProviderError(f"SendGrid reserves the header(s) {bad}; use the dedicated fields",
                            permanent=True)
    return {str(k): str(v) for k, v in headers.items()}
