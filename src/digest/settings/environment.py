"""The environment (twelve-factor, Heroku config vars) and the one :class:`Settings` object built
from it and the publication's file at the edge (the CLI).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Mapping
from urllib.parse import urlsplit

from ..database_url import check_database_url
from ..errors import ConfigError
from .config_file import PublicationConfig, bundled_config_path, load_publication_config


DEFAULT_CONFIG_PATH = Path("config/digest.toml")
DEMO_SECRET_KEY = "digest-demo-secret-not-for-production"


@dataclass(frozen=True)
class WebSettings:
    """What the web process accepts from strangers: body sizes, proxies, request rates.

    Body limits fit what each route takes: a one-click unsubscribe body is
    ``List-Unsubscribe=One-Click`` (a multipart one about 200 bytes), a preferences form a
    few topics, a zone and an hour; SendGrid posts events in batches of up to 768 KB (plus
    the event that crossed that line). Rate limits are per client address and sized so a
    reader never meets one: a person clicks a handful of times, a link scanner a few
    links per email, SendGrid a few posts a second per sending address.
    """

    unsubscribe_max_bytes: int = 1024
    form_max_bytes: int = 8 * 1024
    webhook_max_bytes: int = 2 * 1024 * 1024
    #: Proxies in front of the process whose ``X-Forwarded-For``/``-Proto`` are honoured
    #: (Heroku's router: 1); 0 trusts no header and takes the connection's address.
    trusted_proxy_hops: int = 0
    #: Requests per client address and minute to the token routes / the webhook.
    token_requests_per_minute: int = 300
    webhook_requests_per_minute: int = 600
    #: Token routes: links that fail verification per client address and 10 minutes.
    bad_tokens_per_10_minutes: int = 30
    #: POSTs to /subscribe per client address an hour, and per email address an hour.
    signup_posts_per_hour: int = 20
    signup_posts_per_address_per_hour: int = 5
    #: Hours a confirmation link (a signup, or resubscribing) keeps working.
    confirmation_hours: int = 48
    #: Prefix of the rate limits' Redis keys (as the queue's: DIGEST_QUEUE_NAMESPACE).
    namespace: str = "digest"


@dataclass(frozen=True)
class Settings:
    """Everything the process needs, from the environment and the config file."""

    config_path: Path
    config: PublicationConfig
    database_url: str = "sqlite:///digest.db"
    provider: Literal["outbox", "sendgrid", "smtp"] = "outbox"
    outbox_dir: Path = Path("outbox")
    sendgrid_api_key: str | None = field(default=None, repr=False)
    sendgrid_api_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str | None = field(default=None, repr=False)
    smtp_url: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    #: Signs editors in to the report page (``/editor/report``); unset: no editor pages.
    editor_token: str | None = field(default=None, repr=False)
    base_url: str = "http://localhost:8000"
    redis_url: str | None = field(default=None, repr=False)
    port: int = 8000
    #: Batches sent at once by ``digest send`` (threads; each batch is still one claimed,
    #: settled ledger unit). 1 sends them one after another, in order.
    send_concurrency: int = 1
    #: Worker processes a big edition's renders may use while planning goes on (0: render
    #: in the planning process). Default: the machine's cores.
    render_processes: int = 0
    #: Processes ``digest send`` sends a big edition's batches from (each with
    #: ``send_concurrency`` threads): the send path is Python work per recipient, and one
    #: process uses one core. Default: the machine's cores.
    send_processes: int = 1
    web: WebSettings = WebSettings()
    #: Active subscribers per send process below which an edition is sent from the
    #: planning process (starting worker processes costs about a second).
    readers_per_send_process: int = 5_000

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise ConfigError(
                "DIGEST_SECRET_KEY is not set: it signs unsubscribe and preference links "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return self.secret_key

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)


PROVIDERS = ("outbox", "sendgrid", "smtp")


def load_settings(environ: Mapping[str, str] | None = None, *, demo: bool = False) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``).

    With ``demo=True`` the bundled sample config and a fixed demo secret are used
    unless the environment names others, so ``digest demo`` runs on a fresh clone.
    """
    env = os.environ if environ is None else environ

    if env.get("DIGEST_CONFIG"):
        config_path = Path(env["DIGEST_CONFIG"])
    elif demo or not DEFAULT_CONFIG_PATH.exists():
        config_path = bundled_config_path() if demo else DEFAULT_CONFIG_PATH
        if not demo and not config_path.exists():
            config_path = bundled_config_path()
    else:
        config_path = DEFAULT_CONFIG_PATH
    config = load_publication_config(config_path)

    provider = env.get("DIGEST_PROVIDER", "outbox").strip().lower()
    if provider not in PROVIDERS:
        raise ConfigError(f"DIGEST_PROVIDER: expected one of {', '.join(PROVIDERS)}; got {provider!r}")

    send_concurrency = _whole_number(env, "DIGEST_SEND_CONCURRENCY", 1, 1, 64)
    send_processes = _whole_number(env, "DIGEST_SEND_PROCESSES", os.cpu_count() or 1, 1, 64)
    render_processes = _whole_number(env, "DIGEST_RENDER_PROCESSES", os.cpu_count() or 1, 0, 64)
    readers_per_send_process = _whole_number(env, "DIGEST_READERS_PER_SEND_PROCESS", 5_000, 1, 10_000_000)

    port_text = env.get("PORT", "8000")
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"PORT: expected a TCP port number; got {port_text!r}") from None

    base_url = env.get("DIGEST_BASE_URL", "http://localhost:8000").rstrip("/")
    if urlsplit(base_url).scheme not in ("http", "https"):
        raise ConfigError(f"DIGEST_BASE_URL: expected an http(s) URL; got {base_url!r}")

    secret = env.get("DIGEST_SECRET_KEY") or (DEMO_SECRET_KEY if demo else None)
    editor_token = (env.get("DIGEST_EDITOR_TOKEN") or "").strip() or None
    if editor_token is not None and len(editor_token) < 16:
        raise ConfigError("DIGEST_EDITOR_TOKEN: expected at least 16 characters (a token that cannot be guessed)")
    web = WebSettings(
        webhook_max_bytes=_whole_number(env, "DIGEST_WEBHOOK_MAX_BYTES", WebSettings.webhook_max_bytes,
                                        64 * 1024, 64 * 1024 * 1024),
        # Heroku sets DYNO on every dyno; its router is the one proxy in front.
        trusted_proxy_hops=_whole_number(env, "DIGEST_TRUSTED_PROXY_HOPS", 1 if env.get("DYNO") else 0, 0, 5),
        namespace=env.get("DIGEST_QUEUE_NAMESPACE") or "digest",
    )

    return Settings(
        config_path=config_path,
        config=config,
        database_url=check_database_url(env.get("DATABASE_URL", "sqlite:///digest.db")),
        provider=provider,  # type: ignore[arg-type]
        outbox_dir=Path(env.get("DIGEST_OUTBOX", "outbox")),
        sendgrid_api_key=env.get("SENDGRID_API_KEY") or None,
        sendgrid_api_host=env.get("SENDGRID_API_HOST", "https://api.sendgrid.com").rstrip("/"),
        sendgrid_webhook_public_key=env.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
        smtp_url=env.get("SMTP_URL") or None,
        secret_key=secret,
        editor_token=editor_token,
        base_url=base_url,
        redis_url=env.get("REDIS_URL") or None,
        port=port,
        send_concurrency=send_concurrency,
        render_processes=render_processes,
        send_processes=send_processes,
        web=web,
        readers_per_send_process=readers_per_send_process,
    )


def _whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, str(default))
    try:
        value = int(text)
        if not low <= value <= high:
            raise ValueError
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number from {low} to {high}; got {text!r}") from None
    return value
