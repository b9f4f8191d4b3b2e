"""Bounded request bodies, checked before they are read; client disconnects kept quiet.

Each route takes a body of a known kind and size (:class:`~digest.settings.WebSettings`):
a declared ``Content-Length`` over the route's limit is answered 413 at once, without
reading a byte, and a body without one (chunked) is counted as it streams in and cut off
with 413 as soon as it passes the limit. Either way the response closes the connection,
so the server stops reading what the client goes on sending, and memory stays flat.

A client that goes away mid-request is not the server's error: Starlette raises
``ClientDisconnect`` from the handler, which would otherwise reach the log as an ERROR
with a traceback. It is logged here at debug level.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import WebSettings
from .pages import Pages

log = logging.getLogger(__name__)

CLOSE = {"connection": "close"}


class BodyTooLarge(Exception):
    pass


def body_limit(method: str, path: str, web: WebSettings) -> int:
    """The most bytes a request to ``path`` may carry: nothing for a GET or an unknown route."""
    if method != "POST":
        return 0
    if path.startswith("/unsubscribe/"):
        return web.unsubscribe_max_bytes
    if path.startswith(("/preferences/", "/confirm/", "/editor/review/")) or path in ("/subscribe", "/editor/sign-in",
                                                                                     "/editor/resume"):
        return web.form_max_bytes
    if path == "/webhooks/sendgrid":
        return web.webhook_max_bytes
    return 0


def declared_length(scope: Scope) -> int | None:
    """``Content-Length`` as a number; -1 when it is not one (refused like an oversize)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else -1
    return None


def _chunked(scope: Scope) -> bool:
    """A body announced without a length: on a route that takes none, refused at once."""
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, web: WebSettings, pages: Pages):
        self.app = app
        self.web = web
        self.pages = pages

    def too_large(self, limit: int) -> Response:
        response = self.pages.message(
            "Request too large", f"This address accepts at most {limit:,} bytes.", 413
        )
        response.headers.update(CLOSE)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"], self.web)
        declared = declared_length(scope)
        too_long = declared is not None and not 0 <= declared <= limit
        if too_long or (limit == 0 and declared is None and _chunked(scope)):
            await self.too_large(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:  # a handler that streams its answer while reading: cannot say 413
                raise
            await self.too_large(limit)(scope, receive, send)
        except ClientDisconnect:
            log.debug("client went away during %s %s", scope["method"], scope["path"].split("/", 2)[1])
