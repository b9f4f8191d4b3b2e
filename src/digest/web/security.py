"""Response headers that keep signed links private, and log lines that do too.

The signed token in an unsubscribe, preferences or archive URL is the subscriber's only
credential, so it must not leak: pages are never cached (``no-store``), never send a
``Referer`` to the sites they link to, and the access log prints the route without it.
"""

from __future__ import annotations

import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: dict[str, str] = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # The archive shows an email body: inline styles and remote images, never scripts.
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_TOKEN_PATH = re.compile(r"^(/(?:unsubscribe|preferences|archive|confirm)/)[^/?#\s]+")


def redact_path(path: str) -> str:
    """``/unsubscribe/abc.def`` -> ``/unsubscribe/<token>``; other paths unchanged."""
    return _TOKEN_PATH.sub(r"\1<token>", path)


class TokenRedactingFilter(logging.Filter):
    """For uvicorn's access log, whose record args are (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = args[:2] + (redact_path(args[2]),) + args[3:]
        return True
