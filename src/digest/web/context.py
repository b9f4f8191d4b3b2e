"""What every request handler needs, built once by :func:`digest.web.app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..links import InvalidToken, LinkMaker, TokenData, read_token
from ..runtime import Runtime
from .pages import Pages


@dataclass
class WebContext:
    runtime: Runtime
    secret: str
    links: LinkMaker
    pages: Pages

    def read_token(self, purpose: str, token: str) -> TokenData | None:
        """The token's payload, or None when it is forged, altered or malformed."""
        try:
            return read_token(self.secret, purpose, token)
        except InvalidToken:
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


def context(request: Request) -> WebContext:
    return request.app.state.web
