"""The Starlette application of the web process (``digest web``, the Procfile's ``web:``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..links import LinkMaker
from ..runtime import Runtime
from .archive import archive
from .context import WebContext
from .health import healthz
from .pages import Pages
from .preferences import preferences_page, update_preferences
from .security import SecurityHeadersMiddleware
from .unsubscribe import unsubscribe, unsubscribe_page
from .webhooks import WebhookKey, sendgrid_events


def create_app(runtime: Runtime) -> Starlette:
    """Build the app on an open runtime; needs ``DIGEST_SECRET_KEY`` (raises ConfigError)."""
    settings = runtime.settings
    secret = settings.require_secret_key()
    pages = Pages(settings.config)
    web = WebContext(runtime=runtime, secret=secret, links=LinkMaker(settings.base_url, secret), pages=pages)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {404: "Page not found", 405: "Method not allowed"}
        response = pages.message(titles.get(exc.status_code, "Request refused"), exc.detail, exc.status_code)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    app = Starlette(
        routes=[
            Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe, methods=["POST"]),
            Route("/preferences/{token}", preferences_page, methods=["GET"]),
            Route("/preferences/{token}", update_preferences, methods=["POST"]),
            Route("/webhooks/sendgrid", sendgrid_events, methods=["POST"]),
            Route("/archive/{token}", archive, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        middleware=[Middleware(SecurityHeadersMiddleware)],
        exception_handlers={HTTPException: http_error},
    )
    app.state.web = web
    app.state.webhook_key = WebhookKey(settings.sendgrid_webhook_public_key)
    return app
