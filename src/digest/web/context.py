"""What every request handler needs, built once by :func:`digest.web.app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..links import InvalidToken, LinkMaker, TokenData, read_token
from ..runtime import Runtime
from ..subscribers.consent import Evidence
from .pages import Pages
from .rate_limits import RequestLimiter


@dataclass
class WebContext:
    runtime: Runtime
    secret: str
    links: LinkMaker
    pages: Pages
    limiter: RequestLimiter

    def read_token(self, request: Request, purpose: str) -> TokenData | None:
        """The payload of the URL's token, or None when it is forged, altered or
        malformed (counted against the client's budget of bad links)."""
        try:
            return read_token(self.secret, purpose, request.path_params["token"])
        except InvalidToken:
            mark_bad_token(request)
            return None

    def invalid_link(self) -> HTMLResponse:
        return self.pages.message(
            "This link is not valid",
            "The link may have been cut short or changed. Please use the link from the "
            "most recent email you received from us.",
            400,
        )

    def unknown_subscriber(self, status_code: int = 404) -> HTMLResponse:
        return self.pages.message(
            "Address not found",
            "This address is no longer on our list, so it will not receive any more email from us.",
            status_code,
        )


def mark_bad_token(request: Request) -> None:
    """Tell :class:`~digest.web.rate_limits.RateLimitMiddleware` this request's link failed."""
    request.state.bad_token = True


def evidence_of(request: Request, source: str, wording: str | None = None) -> Evidence:
    """What a consent record keeps of this request: the client address (behind trusted
    proxies), the user agent, where it came from and the wording shown."""
    return Evidence(client_ip=request.client.host if request.client else None,
                    user_agent=request.headers.get("user-agent"), source=source, wording=wording)


def context(request: Request) -> WebContext:
    return request.app.state.web
