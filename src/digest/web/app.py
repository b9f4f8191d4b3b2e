"""The Starlette application of the web process (``digest web``, the Procfile's ``web:``).

Middleware, outermost first: security headers on every answer (the 500 page sets its own,
since Starlette sends it from outside all middleware); the client's address from trusted
proxies only; per-client rate limits; bounded bodies.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..database_url import reason_of
from ..database_wait import prepare_in_background
from ..db import UNREACHABLE
from ..links import LinkMaker
from ..runtime import Runtime
from .archive import archive, subscription_links
from .body_limits import BodyLimitMiddleware
from .confirm import confirm, confirm_page
from .context import WebContext
from .editor import report_page, resume, sign_in, sign_in_page
from .review import review_action, review_body, review_page
from .health import healthz
from .home import edition_page, home
from .pages import Pages
from .my_data import download_data, forget_me
from .preferences import preferences_page, update_preferences
from .proxies import TrustedProxyMiddleware
from .rate_limits import RateLimitMiddleware, RequestLimiter, make_storage
from .shared_limits import DatabaseWindows
from .security import SECURITY_HEADERS, SecurityHeadersMiddleware, redact_path
from .signup import subscribe, subscribe_page, subscribe_preflight
from .unsubscribe import unsubscribe, unsubscribe_page
from .webhooks import WebhookKey, sendgrid_events

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> Starlette:
    """Build the app on an open runtime; needs ``DIGEST_SECRET_KEY`` (raises ConfigError).
    A runtime not yet ready (the database away at start-up) is prepared in the background
    while the app serves, ``/healthz`` answering 503 until then."""
    settings = runtime.settings
    secret = settings.require_secret_key()
    pages = Pages(settings.config)
    # Without Redis, the signup limits are counted in the database, shared by every web dyno.
    shared = None if settings.redis_url else DatabaseWindows(runtime, secret)
    limiter = RequestLimiter(settings.web, make_storage(settings.redis_url, settings.web.namespace), shared)
    web = WebContext(runtime=runtime, secret=secret, links=LinkMaker(settings.base_url, secret), pages=pages,
                     limiter=limiter)

    async def database_away(request: Request, exc: Exception) -> Response:
        log.warning("%s %s: the database did not answer (%s): 503", request.method, redact_path(request.url.path),
                    reason_of(exc))
        response = pages.message("Please try again in a minute",
                                 "We could not reach our records just now. Nothing was changed.", 503)
        response.headers["Retry-After"] = "60"
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        """Start serving at once; a database that is away is waited for in the background."""
        stop = threading.Event()
        if not runtime.ready:
            prepare_in_background(runtime, stop)
        yield
        stop.set()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {404: "Page not found", 405: "Method not allowed"}
        response = pages.message(titles.get(exc.status_code, "Request refused"), exc.detail, exc.status_code)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        response = pages.message(
            "Something went wrong", "Please try again in a few minutes. Nothing was changed.", 500
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    app = Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/editions/{edition_id:int}", edition_page, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe, methods=["POST"]),
            Route("/preferences/{token}", preferences_page, methods=["GET"]),
            Route("/preferences/{token}", update_preferences, methods=["POST"]),
            Route("/preferences/{token}/data", download_data, methods=["GET"]),
            Route("/preferences/{token}/forget", forget_me, methods=["POST"]),
            Route("/confirm/{token}", confirm_page, methods=["GET"]),
            Route("/confirm/{token}", confirm, methods=["POST"]),
            Route("/subscribe", subscribe_page, methods=["GET"]),
            Route("/subscribe", subscribe, methods=["POST"]),
            Route("/subscribe", subscribe_preflight, methods=["OPTIONS"]),
            Route("/webhooks/sendgrid", sendgrid_events, methods=["POST"]),
            Route("/archive/{token}", archive, methods=["GET"]),
            Route("/subscription", subscription_links, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/editor/sign-in", sign_in_page, methods=["GET"]),
            Route("/editor/sign-in", sign_in, methods=["POST"]),
            Route("/editor/report", report_page, methods=["GET"]),
            Route("/editor/resume", resume, methods=["POST"]),
            Route("/editor/review", review_page, methods=["GET"]),
            Route("/editor/review/body/{body_id:int}", review_body, methods=["GET"]),
            Route("/editor/review/{action}", review_action, methods=["POST"]),
        ],
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(TrustedProxyMiddleware, hops=settings.web.trusted_proxy_hops),
            Middleware(RateLimitMiddleware, limiter=limiter, pages=pages),
            Middleware(BodyLimitMiddleware, web=settings.web, pages=pages),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error,
                            **{error: database_away for error in UNREACHABLE}},
        lifespan=lifespan,
    )
    # "/healthz/" would be redirected to a URL built from the client's Host header.
    app.router.redirect_slashes = False
    app.state.web = web
    app.state.webhook_key = WebhookKey(settings.sendgrid_webhook_public_key)
    return app
