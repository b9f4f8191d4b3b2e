"""One typed settings object, built once at the edge (the CLI) and passed in.

Two sources: environment variables (twelve-factor, Heroku config vars) and the
publication's TOML file (``DIGEST_CONFIG``, default ``config/digest.toml``). Both are
validated at start-up; an error names the file or variable, the key and what was
expected, so a typo never surfaces later as a half-sent edition.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .contrast import AA_TEXT, nearest_passing, ratio
from .database_url import check_database_url, normalise_database_url  # noqa: F401  (normalise: re-exported)
from .errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("config/digest.toml")
DEMO_SECRET_KEY = "digest-demo-secret-not-for-production"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


class Publication(_Strict):
    name: str = Field(min_length=1)
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str | None = None
    reply_to: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    postal_address: str = Field(min_length=5)
    contact: str = Field(min_length=3)
    website: str = "https://example.com"
    list_id: str = Field(min_length=3, description="List-Id domain part, e.g. daily.example.com")
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")


#: The cards' surface in the dark scheme (templates/email/partials/styles.mjml.j2).
DARK_SURFACE = "#161b22"
_HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"
#: Every pair the email templates draw text with that a brand colour is part of:
#: (the key, the fixed colour on the other side, where). A pair under WCAG AA (4.5:1)
#: has its key moved to the nearest passing shade at load, with a warning (README,
#: "Brand colours and contrast": why adjusted rather than refused).
BRAND_TEXT_PAIRS = (
    ("accent_color", "#ffffff", "section headings, drawn in the accent on the white cards"),
    ("primary_color", "#ffffff", "headlines and links on the white cards, the masthead's name on it"),
    ("primary_color", "#dbe4ee", "the masthead's date line"),
    ("background_color", "#4a5563", "the footer's text on the page background"),
)


class Branding(_Strict):
    primary_color: str = Field(default="#0b3d91", pattern=_HEX_COLOUR)
    accent_color: str = Field(default="#967100", pattern=_HEX_COLOUR)
    background_color: str = Field(default="#f3f4f6", pattern=_HEX_COLOUR)
    logo_url: str | None = None
    logo_alt: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _readable_text(cls, data):
        """Each pair of :data:`BRAND_TEXT_PAIRS` under 4.5:1 gets the nearest passing
        shade of its brand colour (same hue), and a warning naming the key, the ratio
        and the shade used. A value that is not a colour is left for the field's own
        check to report."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for key, fixed, where in BRAND_TEXT_PAIRS:
            value = data.get(key, cls.model_fields[key].default)
            if not isinstance(value, str) or not re.match(_HEX_COLOUR, value):
                continue
            have = ratio(value, fixed)
            if have >= AA_TEXT:
                continue
            shade = nearest_passing(value, fixed)
            log.warning(
                "branding.%s %s against %s (%s) has contrast %.2f:1, under WCAG AA's %.1f:1 for text: "
                "using %s (%.2f:1) instead; set branding.%s to a passing colour to silence this",
                key, value, fixed, where, have, AA_TEXT, shade, ratio(shade, fixed), key,
            )
            data[key] = shade
        return data

    @property
    def accent_on_dark(self) -> str:
        """The section headings' colour in the dark scheme: the accent, lightened just
        enough to keep 4.5:1 on the dark surface."""
        return nearest_passing(self.accent_color, DARK_SURFACE)


class Schedule(_Strict):
    default_send_hour: int = Field(default=7, ge=0, le=23)
    default_timezone: str = "America/New_York"
    ingest_every_minutes: int = Field(default=30, ge=1, le=1440)
    grace_hours: float = Field(default=6, gt=0, le=24)
    skip_weekdays: tuple[str, ...] = ()
    holidays: tuple[date, ...] = ()

    _tz = field_validator("default_timezone")(_check_timezone)

    @field_validator("skip_weekdays")
    @classmethod
    def _weekdays(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in value if d.lower() not in WEEKDAYS]
        if bad:
            raise ValueError(f"weekdays must be among {', '.join(WEEKDAYS)}; got {bad}")
        return tuple(d.lower() for d in value)


class Disclaimer(_Strict):
    text: str = Field(min_length=20)


class Selection(_Strict):
    max_per_topic: int = Field(default=4, ge=1, le=100)
    max_videos: int = Field(default=4, ge=0, le=20)
    max_recommended: int = Field(default=3, ge=0, le=20)
    max_related: int = Field(default=12, ge=0, le=200)
    new_subscriber_hours: int = Field(default=24, ge=1, le=24 * 14)
    fallback_topic: str = "general"
    strict: bool = False
    nothing_new: Literal["skip", "note"] = "skip"
    max_html_bytes: int = Field(default=95_000, ge=20_000, le=102_000)


class Delivery(_Strict):
    """``[delivery]``: what happens to readers whose send is ambiguous (the request may or
    may not have reached the provider)."""

    #: "resend-after-wait": with SendGrid, readers no event has accounted for after
    #: ``ambiguous_wait_minutes`` are resent once by the worker; "ask": they wait for an
    #: operator (``digest send --resend-ambiguous``). SMTP and the outbox have no events:
    #: their ambiguous readers always wait for an operator.
    ambiguous: Literal["resend-after-wait", "ask"] = "resend-after-wait"
    ambiguous_wait_minutes: int = Field(default=30, ge=1, le=24 * 60)


class Tracking(_Strict):
    """``[tracking]``: SendGrid's open and click tracking, and UTM parameters on links.

    Each sets the request's ``tracking_settings``; left out, the SendGrid account's own
    settings apply. Opens and clicks are what the report's engagement figures come from.
    ``utm`` adds ``utm_source``, ``utm_medium`` and ``utm_campaign`` to every item link as
    the email is rendered (:mod:`digest.utm`), so the preview, proofs and every provider
    show links exactly as sent (SendGrid's own "ganalytics" is not asked for).
    """

    open: bool | None = None
    click: bool | None = None
    utm: bool = False
    utm_source: str = Field(default="digest", min_length=1, max_length=100)
    utm_medium: str = Field(default="email", min_length=1, max_length=100)
    utm_campaign: str = Field(default="daily-digest", min_length=1, max_length=100)


class Guards(_Strict):
    """``[guards]``: the limits past which sending stops itself (:mod:`digest.report.guards`)."""

    #: Spam complaints over the readers delivered, over the last 7 days (0.003 = 0.3%).
    complaint_rate: float = Field(default=0.003, gt=0, le=1)
    #: An edition's hard bounces over its readers with an outcome (0.05 = 5%).
    hard_bounce_rate: float = Field(default=0.05, gt=0, le=1)
    #: Readers a rate needs behind it before it can trip a guard.
    min_readers: int = Field(default=100, ge=1, le=10_000_000)


class Topic(_Strict):
    slug: str = Field(pattern=SLUG_RE.pattern)
    title: str = Field(min_length=1)
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


class Source(_Strict):
    name: str | None = None
    kind: Literal["wordpress", "youtube", "rss", "atom", "folder"]
    url: str | None = None
    path: str | None = None
    topics: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_location(self) -> "Source":
        if self.kind == "folder":
            if not self.path:
                raise ValueError("a 'folder' source needs 'path'")
        elif not self.url:
            raise ValueError(f"a {self.kind!r} source needs 'url'")
        return self

    @property
    def label(self) -> str:
        return self.name or self.url or self.path or self.kind


class SignupSettings(_Strict):
    """``[signup]``: the web signup form (:mod:`digest.web.signup`)."""

    #: Other sites whose pages may post the form (CORS and the cross-site check), each
    #: ``scheme://host[:port]``; the web process's own origin (DIGEST_BASE_URL) always may.
    allowed_origins: tuple[str, ...] = ()
    #: Shown next to the button, so the reader knows what they agree to.
    consent_text: str = Field(
        default="I agree to receive this daily email digest. I can unsubscribe at any time with the link in every email.",
        min_length=10, max_length=1000)
    #: A form posted sooner than this after the page was served is a robot's: nothing is kept.
    min_fill_seconds: float = Field(default=3, ge=0, le=60)
    #: Send a welcome email (what they get, and when) once a signup is confirmed.
    welcome_email: bool = False

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or origin != f"{parts.scheme}://{parts.netloc}":
                raise ValueError(f"{origin!r} is not an origin: expected scheme://host[:port], no path or slash")
        return value


class PublicationConfig(_Strict):
    """The whole of ``config/digest.toml``."""

    publication: Publication
    branding: Branding = Branding()
    schedule: Schedule = Schedule()
    disclaimer: Disclaimer
    selection: Selection = Selection()
    delivery: Delivery = Delivery()
    tracking: Tracking = Tracking()
    guards: Guards = Guards()
    topics: tuple[Topic, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = ()
    signup: SignupSettings = SignupSettings()

    @model_validator(mode="after")
    def _cross_checks(self) -> "PublicationConfig":
        slugs = [t.slug for t in self.topics]
        dupes = sorted({s for s in slugs if slugs.count(s) > 1})
        if dupes:
            raise ValueError(f"topic slugs must be unique; repeated: {dupes}")
        if self.selection.fallback_topic not in slugs:
            raise ValueError(
                f"selection.fallback_topic {self.selection.fallback_topic!r} is not one of the topics {slugs}"
            )
        for i, source in enumerate(self.sources):
            unknown = [t for t in source.topics if t not in slugs]
            if unknown:
                raise ValueError(f"sources[{i}].topics names unknown topics {unknown}")
        return self

    def topic(self, slug: str) -> Topic:
        for t in self.topics:
            if t.slug == slug:
                return t
        raise KeyError(slug)

    @property
    def topic_slugs(self) -> tuple[str, ...]:
        return tuple(t.slug for t in self.topics)


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        got = err.get("input")
        got_text = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {key}: {err['msg']}{got_text}")
    return "\n".join(lines)


def bundled_config_path() -> Path:
    """The sample publication's config shipped inside the package (used by ``demo``)."""
    return Path(str(resources.files("digest") / "samples" / "digest.toml"))


def load_publication_config(path: Path) -> PublicationConfig:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found (set DIGEST_CONFIG)") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        config = PublicationConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from None
    return _resolve_relative_paths(config, path.parent)


def _resolve_relative_paths(config: PublicationConfig, base: Path) -> PublicationConfig:
    """Folder sources are relative to the config file, not to the working directory."""
    sources = tuple(
        s.model_copy(update={"path": str((base / s.path).resolve())})
        if s.path and not Path(s.path).is_absolute()
        else s
        for s in config.sources
    )
    return config.model_copy(update={"sources": sources})


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
