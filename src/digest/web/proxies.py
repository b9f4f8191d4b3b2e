"""The client's address and scheme, from the proxies we were told to trust and no one else.

Behind Heroku's router (one hop) the connection comes from the router, which appends the
address it saw to ``X-Forwarded-For`` and sets ``X-Forwarded-Proto``. Whatever a client
wrote into those headers itself comes *before* what the trusted proxies appended, so the
client is the entry ``trusted_proxy_hops`` from the end, never the first one. With no
trusted hops the headers are ignored and the connection's own address is the client's
(rate limits are keyed on it, so a spoofed header must not change it).

``X-Forwarded-Host`` and ``Host`` are never used to build a URL: links and redirects come
from ``DIGEST_BASE_URL`` only (Starlette's trailing-slash redirect, which echoes ``Host``,
is turned off in :func:`digest.web.app.create_app`).
"""

from __future__ import annotations

import ipaddress

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send


def _entries(headers: Headers, name: str) -> list[str]:
    return [part.strip() for value in headers.getlist(name) for part in value.split(",") if part.strip()]


def forwarded_client(headers: Headers, hops: int) -> str | None:
    """The address the outermost trusted proxy saw, or None when the headers do not say."""
    entries = _entries(headers, "x-forwarded-for")
    if hops < 1 or len(entries) < hops:
        return None
    try:
        return str(ipaddress.ip_address(entries[-hops]))
    except ValueError:
        return None


def forwarded_scheme(headers: Headers, hops: int) -> str | None:
    entries = _entries(headers, "x-forwarded-proto")
    if hops < 1 or not entries:
        return None
    scheme = entries[-min(hops, len(entries))].lower()
    return scheme if scheme in ("http", "https") else None


class TrustedProxyMiddleware:
    def __init__(self, app: ASGIApp, hops: int):
        self.app = app
        self.hops = hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.hops:
            headers = Headers(scope=scope)
            client, scheme = forwarded_client(headers, self.hops), forwarded_scheme(headers, self.hops)
            if client or scheme:
                scope = dict(scope)
                if client:
                    scope["client"] = (client, 0)
                if scheme:
                    scope["scheme"] = scheme
        await self.app(scope, receive, send)
