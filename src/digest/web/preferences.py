"""The preferences page: topics, time zone and send hour; and coming back after unsubscribing.

The signed token in the URL is the credential (no login, no cookies). That is also the
CSRF defence: another site cannot build a form that posts here without the token.
A POST that fails validation changes nothing and answers 400 with what was wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence
from zoneinfo import available_timezones

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..models import Subscriber, Topic
from ..suppression import can_resubscribe, resubscribe
from .context import WebContext, context

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def timezone_choices() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


@dataclass(frozen=True)
class Preferences:
    topics: tuple[str, ...]
    timezone: str
    send_hour: int


class InvalidPreferences(ValueError):
    pass


def parse_preferences(
    topics: Sequence[str], timezone: str | None, send_hour: str | None, valid_topics: Sequence[str]
) -> Preferences:
    """Check a submitted form; raises :class:`InvalidPreferences` naming what is wrong."""
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
    ordered = tuple(slug for slug in valid_topics if slug in set(topics))
    return Preferences(ordered, timezone, hour)


async def preferences_page(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token("preferences", request.path_params["token"])
    if data is None:
        return ctx.invalid_link()
    view = await run_in_threadpool(_load_view, ctx, data.subscriber_id)
    if view is None:
        return ctx.unknown_subscriber()
    return _render(ctx, request, view)


async def update_preferences(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token("preferences", request.path_params["token"])
    if data is None:
        return ctx.invalid_link()
    form = await request.form()
    if form.get("action") == "resubscribe":
        return await _resubscribe(ctx, request, data.subscriber_id)
    try:
        prefs = parse_preferences(
            [str(v) for v in form.getlist("topics")],
            _text(form, "timezone"),
            _text(form, "send_hour"),
            ctx.runtime.settings.config.topic_slugs,
        )
    except InvalidPreferences as exc:
        view = await run_in_threadpool(_load_view, ctx, data.subscriber_id)
        if view is None:
            return ctx.unknown_subscriber()
        return _render(ctx, request, view, error=str(exc), status_code=400)
    view = await run_in_threadpool(_save, ctx, data.subscriber_id, prefs)
    if view is None:
        return ctx.unknown_subscriber()
    return _render(ctx, request, view, notice="Your preferences are saved.")


async def _resubscribe(ctx: WebContext, request: Request, subscriber_id: int) -> Response:
    outcome = await run_in_threadpool(_do_resubscribe, ctx, subscriber_id)
    if outcome is None:
        return ctx.unknown_subscriber()
    view, allowed = outcome
    if not allowed:
        return _render(
            ctx, request, view, status_code=409,
            error="This address cannot be resubscribed from this page. Please contact us.",
        )
    return _render(ctx, request, view, notice="Welcome back: you will receive the digest again.")


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


def _view(subscriber: Subscriber) -> _View:
    return _View(
        subscriber_id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        can_resubscribe=can_resubscribe(subscriber),
        prefs=Preferences(tuple(subscriber.topic_slugs), subscriber.timezone, subscriber.send_hour),
    )


def _load_view(ctx: WebContext, subscriber_id: int) -> _View | None:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        return _view(subscriber) if subscriber else None


def _save(ctx: WebContext, subscriber_id: int, prefs: Preferences) -> _View | None:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return None
        topics = session.scalars(select(Topic).where(Topic.slug.in_(prefs.topics))).all()
        subscriber.topics = sorted(topics, key=lambda t: t.slug)
        subscriber.timezone = prefs.timezone
        subscriber.send_hour = prefs.send_hour
        session.flush()
        log.info("subscriber %s updated preferences", subscriber_id)
        return _view(subscriber)


def _do_resubscribe(ctx: WebContext, subscriber_id: int) -> tuple[_View, bool] | None:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return None
        try:
            if resubscribe(subscriber):
                log.info("subscriber %s resubscribed", subscriber_id)
        except ValueError:
            return _view(subscriber), False
        return _view(subscriber), True


def _render(
    ctx: WebContext, request: Request, view: _View, *,
    error: str | None = None, notice: str | None = None, status_code: int = 200,
) -> Response:
    return ctx.pages.render(
        "preferences.html",
        status_code,
        view=view,
        topics=ctx.runtime.settings.config.topics,
        timezones=timezone_choices(),
        hours=range(24),
        action=request.url.path,
        unsubscribe_url=ctx.links.unsubscribe_url(view.subscriber_id),
        error=error,
        notice=notice,
    )
