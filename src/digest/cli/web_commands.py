"""``digest web``: the web process (the Procfile's ``web:``)."""

from __future__ import annotations

import logging

import click

from . import main
from .common import State, pass_state


@main.command("web")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to listen on (default: $PORT, else 8000).")
@click.option("--host", default="0.0.0.0", show_default=True,
              help="Interface to bind; 0.0.0.0 is what Heroku's router needs.")
@pass_state
def web(state: State, port: int | None, host: str) -> None:
    """Serve unsubscribe, preferences, provider events, the archive and /healthz."""
    import uvicorn

    from ..web import create_app
    from ..web.security import TokenRedactingFilter

    settings = state.settings
    settings.require_secret_key()
    logging.getLogger("digest").setLevel(min(logging.INFO, logging.getLogger("digest").getEffectiveLevel()))
    app = create_app(state.waiting_runtime())  # serves /healthz as 503 until the database answers
    config = uvicorn.Config(
        app,
        host=host,
        port=port or settings.port,
        # X-Forwarded-* is read by digest.web.proxies, from DIGEST_TRUSTED_PROXY_HOPS
        # proxies only (Heroku's router connects from addresses no list could name).
        proxy_headers=False,
        timeout_graceful_shutdown=20,  # Heroku sends SIGKILL 30 s after SIGTERM
    )
    # After uvicorn configured its loggers: signed tokens in URLs are credentials,
    # so the access log shows the route without them.
    logging.getLogger("uvicorn.access").addFilter(TokenRedactingFilter())
    uvicorn.Server(config).run()
