"""The sections of the publication's TOML file (``[publication]``, ``[branding]``, ``[[topics]]``, ...),
each a frozen pydantic model that names the key and what was expected when a value is wrong.

Names end in ``Config`` where the plain word is also a table (``digest.models.Topic``...).
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Literal, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..contrast import AA_TEXT, nearest_passing, ratio

log = logging.getLogger(__name__)

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


class SelectionConfig(_Strict):
    max_per_topic: int = Field(default=4, ge=1, le=100)
    max_videos: int = Field(default=4, ge=0, le=20)
    max_recommended: int = Field(default=3, ge=0, le=20)
    max_related: int = Field(default=12, ge=0, le=200)
    new_subscriber_hours: int = Field(default=24, ge=1, le=24 * 14)
    fallback_topic: str = "general"
    strict: bool = False
    nothing_new: Literal["skip", "note"] = "skip"
    max_html_bytes: int = Field(default=95_000, ge=20_000, le=102_000)


class DeliveryConfig(_Strict):
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


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)\s*$")
_DURATION_UNITS = {"m": timedelta(minutes=1), "min": timedelta(minutes=1), "h": timedelta(hours=1),
                   "d": timedelta(days=1)}


def parse_duration(value: str) -> timedelta:
    """``"90m"``, ``"2h"``, ``"400d"``: a number and a unit (m, h or d)."""
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"a duration is a number and a unit (m, h or d), e.g. \"2h\" or \"400d\"; got {value!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


class ReviewConfig(_Strict):
    """``[review]``: whether an edition waits for an editor's approval (:mod:`digest.review`)."""

    #: "none": every edition goes at each reader's hour (no review); "required": nothing
    #: reaches a reader until an editor approved the edition's snapshot.
    approval: Literal["none", "required"] = "none"
    #: How long before the first reader's hour the edition is drafted (snapshot, bodies, proofs).
    draft_lead: timedelta = timedelta(hours=2)
    #: Addresses (the compliance desk) sent a proof of each drafted edition.
    seed: tuple[str, ...] = ()
    #: Proofs per seed address: one per distinct topic set, the ones with most readers first.
    seed_proofs: int = Field(default=5, ge=0, le=100)
    #: How long a sent email's body is kept for ``digest audit`` after the last edition that
    #: used it; then pruned (:mod:`digest.review.prune`).
    keep_bodies: timedelta = timedelta(days=400)

    @field_validator("draft_lead", "keep_bodies", mode="before")
    @classmethod
    def _duration(cls, value):
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("draft_lead")
    @classmethod
    def _lead_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(hours=24):
            raise ValueError(f"draft_lead must be between 0 and 24h; got {value}")
        return value

    @field_validator("seed")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", a)]
        if bad:
            raise ValueError(f"seed addresses must be email addresses; got {bad}")
        return value


class TopicConfig(_Strict):
    slug: str = Field(pattern=SLUG_RE.pattern)
    title: str = Field(min_length=1)
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


class SourceConfig(_Strict):
    name: str | None = None
    kind: Literal["wordpress", "youtube", "rss", "atom", "folder"]
    url: str | None = None
    path: str | None = None
    topics: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_location(self) -> "SourceConfig":
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
