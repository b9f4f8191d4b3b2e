"""The preferences page: topics, time zone, send hour, how often (daily, or weekly on a
weekday) and a pause until a date, with "resume now"; and asking to come back. Each
change is a consent record (``preferences``) whose wording is what was chosen.

The signed token in the URL is the credential (no login, no cookies). That is also the
CSRF defence: another site cannot build a form that posts here without the token.
A POST that fails validation changes nothing and answers 400 with what was wrong.

The token travels with every copy of an email, forwarded ones included, so it cannot
undo an opt-out by itself: "resubscribe" only sends a confirmation email to the address
(:mod:`digest.subscribers.confirmation`), and the reader is back once its page is posted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import lru_cache
from typing import Mapping, Sequence
from zoneinfo import available_timezones

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..deliver.providers.base import ProviderError
from ..models import ConsentEvent, Subscriber, SubscriberStatus, Topic
from ..subscribers.cadence import (
    DAILY, WEEKDAY_TITLES, WEEKLY, Cadence, CadenceError, apply_cadence, cadence_of, current_cadence, parse_cadence,
    zone_of,
)
from ..subscribers.consent import Evidence, record_consent
from ..suppression import can_resubscribe
from .confirm import send_confirmation
from .context import WebContext, context, evidence_of
from .timezones import zone_groups

log = logging.getLogger(__name__)
_UTC = timezone.utc  # parse_preferences' parameter ``timezone`` (a zone's name) hides the module's


@lru_cache(maxsize=1)
def timezone_choices() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


@dataclass(frozen=True)
class Preferences:
    topics: tuple[str, ...]
    timezone: str
    send_hour: int
    cadence: Cadence | None = None  # None: the form did not say (a page from before it could)

    def wording(self) -> str:
        """The choice in words, as the consent record keeps it."""
        words = f"topics: {', '.join(self.topics)}; time zone: {self.timezone}; hour: {self.send_hour:02d}:00"
        if self.cadence is not None:
            c = self.cadence
            words += "; daily" if c.frequency == DAILY else f"; weekly on {WEEKDAY_TITLES[c.weekday]}"
            words += f"; paused until {c.paused_until}" if c.paused_until else ""
        return words


class InvalidPreferences(ValueError):
    pass


def parse_preferences(
    topics: Sequence[str], timezone: str | None, send_hour: str | None, valid_topics: Sequence[str],
    frequency: str | None = None, weekday: str | None = None, paused_until: str | None = None,
    now: datetime | None = None,
) -> Preferences:
    """Check a submitted form; raises :class:`InvalidPreferences` naming what is wrong.
    A pause date must come after the reader's local today (in the zone chosen). Without
    a ``frequency`` the reader's frequency and pause are left as they are."""
    unknown = sorted(set(topics) - set(valid_topics))
    if unknown:
        raise InvalidPreferences(f"Unknown topic(s): {', '.join(unknown)}.")
    if not topics:
        raise InvalidPreferences(
            "Choose at least one topic. To stop receiving the digest, use the unsubscribe link instead."
        )
    if not timezone or timezone not in timezone_choices():
        raise InvalidPreferences(f"Unknown time zone {timezone!r}: choose one from the list.")
    try:
        hour = int(send_hour or "")
    except ValueError:
        raise InvalidPreferences("The send hour must be a whole number from 0 to 23.") from None
    if not 0 <= hour <= 23:
        raise InvalidPreferences("The send hour must be a whole number from 0 to 23.")
    try:
        cadence = parse_cadence(frequency, weekday, paused_until) if frequency is not None else None
    except CadenceError as exc:
        message = str(exc).replace("paused_until", "the pause date")
        raise InvalidPreferences(message[0].upper() + message[1:] + ".") from None
    if cadence is not None and cadence.paused_until is not None:
        today = (now or datetime.now(_UTC)).astimezone(zone_of(timezone)).date()
        if cadence.paused_until <= today:
            raise InvalidPreferences(f"To pause, choose a date after today ({today.isoformat()}), or leave it empty.")
    ordered = tuple(slug for slug in valid_topics if slug in set(topics))
    return Preferences(ordered, timezone, hour, cadence)


async def preferences_page(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token(request, "preferences")
    if data is None:
        return ctx.invalid_link()
    view = await run_in_threadpool(_load_view, ctx, data.subscriber_id)
    if view is None:
        return ctx.unknown_subscriber()
    return _render(ctx, request, view)


async def update_preferences(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token(request, "preferences")
    if data is None:
        return ctx.invalid_link()
    form = await request.form()
    if form.get("action") == "resubscribe":
        return await _resubscribe(ctx, request, data.subscriber_id)
    if form.get("action") == "resume":
        view = await run_in_threadpool(_resume, ctx, data.subscriber_id,
                                       evidence_of(request, "preferences page", "resumed now"))
        if view is None:
            return ctx.unknown_subscriber()
        return _render(ctx, request, view, notice="Your digest resumes with the next one.")
    try:
        prefs = parse_preferences(
            [str(v) for v in form.getlist("topics")],
            _text(form, "timezone"),
            _text(form, "send_hour"),
            ctx.runtime.settings.config.topic_slugs,
            _text(form, "frequency"), _text(form, "weekday"), _text(form, "paused_until"),
        )
    except InvalidPreferences as exc:
        view = await run_in_threadpool(_load_view, ctx, data.subscriber_id)
        if view is None:
            return ctx.unknown_subscriber()
        return _render(ctx, request, view, error=str(exc), status_code=400)
    view = await run_in_threadpool(_save, ctx, data.subscriber_id, prefs,
                                   evidence_of(request, "preferences page", prefs.wording()))
    if view is None:
        return ctx.unknown_subscriber()
    return _render(ctx, request, view, notice="Your preferences are saved.")


async def _resubscribe(ctx: WebContext, request: Request, subscriber_id: int) -> Response:
    view = await run_in_threadpool(_load_view, ctx, subscriber_id)
    if view is None:
        return ctx.unknown_subscriber()
    if view.status == SubscriberStatus.ACTIVE:
        return _render(ctx, request, view, notice="You already receive the digest.")
    if not view.can_resubscribe:
        return _render(
            ctx, request, view, status_code=409,
            error="This address cannot be resubscribed from this page. Please contact us.",
        )
    if await ctx.limiter.confirmation_allowed(subscriber_id):
        try:
            await run_in_threadpool(send_confirmation, ctx, subscriber_id, returning=True)
        except ProviderError as exc:
            log.warning("subscriber %s: confirmation email not sent: %s", subscriber_id, exc)
            return _render(ctx, request, view, status_code=503,
                           error="We could not send the confirmation email just now. Please try again later.")
    else:
        log.info("subscriber %s: confirmation email not sent again today", subscriber_id)
    return _render(
        ctx, request, view,
        notice="We sent an email to the address this digest goes to. Your subscription starts "
               "again when you press the button on the page its link opens.",
    )


def _text(form: Mapping, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class _View:
    subscriber_id: int
    email: str
    status: str
    can_resubscribe: bool
    prefs: Preferences
    paused: bool  # on the reader's local today


def _view(subscriber: Subscriber) -> _View:
    cadence = current_cadence(subscriber, datetime.now(timezone.utc))  # a pause that is over is not shown
    return _View(
        subscriber_id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        can_resubscribe=can_resubscribe(subscriber),
        prefs=Preferences(tuple(subscriber.topic_slugs), subscriber.timezone, subscriber.send_hour, cadence),
        paused=cadence.paused_until is not None,
    )


def _load_view(ctx: WebContext, subscriber_id: int) -> _View | None:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        return _view(subscriber) if subscriber else None


def _save(ctx: WebContext, subscriber_id: int, prefs: Preferences, evidence: Evidence) -> _View | None:
    """Store the choices, with a consent record whose wording is what was chosen."""
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return None
        topics = session.scalars(select(Topic).where(Topic.slug.in_(prefs.topics))).all()
        subscriber.topics = sorted(topics, key=lambda t: t.slug)
        subscriber.timezone = prefs.timezone
        subscriber.send_hour = prefs.send_hour
        # After the zone and hour: the window after a pause is worked out in them.
        now = datetime.now(timezone.utc)
        apply_cadence(subscriber, prefs.cadence or current_cadence(subscriber, now), now)
        session.flush()
        record_consent(session, subscriber_id, ConsentEvent.PREFERENCES, evidence)
        log.info("subscriber %s updated preferences", subscriber_id)
        return _view(subscriber)


def _resume(ctx: WebContext, subscriber_id: int, evidence: Evidence) -> _View | None:
    """End a pause now: the next digest is the reader's next regular one."""
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return None
        apply_cadence(subscriber, replace(cadence_of(subscriber), paused_until=None), datetime.now(timezone.utc))
        session.flush()
        record_consent(session, subscriber_id, ConsentEvent.PREFERENCES, evidence)
        log.info("subscriber %s resumed their digest", subscriber_id)
        return _view(subscriber)


def _render(
    ctx: WebContext, request: Request, view: _View, *,
    error: str | None = None, notice: str | None = None, status_code: int = 200,
) -> Response:
    return ctx.pages.render(
        "preferences.html",
        status_code,
        view=view,
        topics=ctx.runtime.settings.config.topics,
        timezones=zone_groups(view.prefs.timezone),
        hours=range(24),
        weekdays=WEEKDAY_TITLES,
        weekly=WEEKLY,
        action=request.url.path,
        unsubscribe_url=ctx.links.unsubscribe_url(view.subscriber_id),
        error=error,
        notice=notice,
    )
