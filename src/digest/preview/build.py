"""One preview: the exact message a subscriber would get, built without sending anything.

A preview reads content and subscribers and writes nothing: no edition, batch or
delivery row, no ``last_digest_at`` update. Links are signed like real ones; without
``DIGEST_SECRET_KEY`` they are signed with a preview-only key and will not work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from email.message import EmailMessage
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..content import RenderedEmail, Selection
from ..errors import DigestError
from ..links import LinkMaker
from ..message import build_message
from ..models import Subscriber
from ..render import Renderer
from ..select import Selector
from ..select.labels import zone
from ..settings import PublicationConfig, Settings
from ..subscribers.cadence import window_start

log = logging.getLogger(__name__)

PREVIEW_SECRET_KEY = "digest-preview-only-key-links-in-this-preview-do-not-work"
SAMPLE_READER = ("reader@example.com", 0)
FORMATS = ("html", "eml", "txt")


class PreviewError(DigestError):
    pass


@dataclass(frozen=True)
class PreviewRequest:
    """What to preview. No topics and no subscriber: every topic, for a sample reader."""

    topics: tuple[str, ...] = ()
    subscriber: str | None = None  # an email address
    edition_date: date | None = None  # None: today's edition, as a send right now would build it


@dataclass(frozen=True)
class Preview:
    request: PreviewRequest
    selection: Selection
    rendered: RenderedEmail
    message: EmailMessage
    would_skip: bool  # nothing new and nothing_new = "skip": this reader would get no email
    since: datetime | None = None  # the start of the reader's window: "nothing new since"

    def nothing_new(self) -> str | None:
        """What to show instead of an empty email, or None when there is an email."""
        if not self.would_skip:
            return None
        since = f" since {self.since:%Y-%m-%d %H:%M}Z" if self.since is not None else ""
        return f"nothing new for this reader{since}: a real send skips them (no-new-items)"

    def as_eml(self) -> bytes:
        return self.message.as_bytes()

    def as_html(self) -> str:
        return self.message.get_body(("html",)).get_content()

    def as_text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    def render_as(self, fmt: str) -> bytes:
        if fmt == "eml":
            return self.as_eml()
        if fmt == "html":
            return self.as_html().encode("utf-8")
        if fmt == "txt":
            return self.as_text().encode("utf-8")
        raise PreviewError(f"unknown preview format {fmt!r}; expected one of {', '.join(FORMATS)}")


def preview_secret(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    log.warning("DIGEST_SECRET_KEY is not set: preview links are signed with a preview-only key and will not work")
    return PREVIEW_SECRET_KEY


def find_subscriber(session: Session, email: str) -> Subscriber:
    row = session.scalar(
        select(Subscriber)
        .where(func.lower(Subscriber.email) == email.strip().lower())
        .options(selectinload(Subscriber.topics))
    )
    if row is None:
        raise PreviewError(f"no subscriber with address {email!r} (see: digest subscribers list)")
    return row


def check_topics(config: PublicationConfig, topics: Sequence[str]) -> tuple[str, ...]:
    unknown = [t for t in topics if t not in config.topic_slugs]
    if unknown:
        raise PreviewError(f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(config.topic_slugs)}")
    return tuple(topics)


def edition_moment(edition_date: date | None, tz_name: str, send_hour: int) -> tuple[date, datetime]:
    """The edition's date and the moment its selection is made ("now" for the selector).

    Today's edition is previewed as of this moment; another date as of its send hour in
    the reader's zone, so a past edition shows what was due then.
    """
    tz = zone(tz_name)
    real_now = datetime.now(timezone.utc)
    if edition_date is None:
        return real_now.astimezone(tz).date(), real_now
    return edition_date, datetime.combine(edition_date, time(send_hour), tz).astimezone(timezone.utc)


def build_preview(
    session: Session,
    settings: Settings,
    request: PreviewRequest,
    *,
    config: PublicationConfig | None = None,
    renderer: Renderer | None = None,
) -> Preview:
    """Select, render and wrap as the subscriber's message. ``config``/``renderer`` let the
    live server pass freshly reloaded ones."""
    config = config or settings.config
    topics = check_topics(config, request.topics)
    subscriber = find_subscriber(session, request.subscriber) if request.subscriber else None

    if subscriber is not None:
        tz_name, send_hour = subscriber.timezone, subscriber.send_hour
        email, subscriber_id = subscriber.email, subscriber.id
        topics = topics or tuple(subscriber.topic_slugs)
    else:
        tz_name, send_hour = config.schedule.default_timezone, config.schedule.default_send_hour
        email, subscriber_id = SAMPLE_READER
    edition_date, now = edition_moment(request.edition_date, tz_name, send_hour)

    since = window_start(subscriber) if subscriber is not None else None  # the last digest, or after a pause
    if since is not None and since >= now:  # previewing an edition before their last one
        since = None
    selector = Selector(session, config, now)
    selection = selector.for_topics(topics, edition_date, since=since)
    since = max(since or selector.new_subscriber_since, selector.floor)  # the window it looked at
    would_skip = selection.is_empty and selection.note is None
    if would_skip:
        log.warning("nothing new for this reader: the real send would skip them (no-new-items)")

    rendered = (renderer or Renderer(config)).render(selection).dated(tz_name, now)  # as the reader's batch would
    links = LinkMaker(settings.base_url, preview_secret(settings))
    message = build_message(
        rendered,
        config=config,
        to=email,
        tokens=links.token_values(subscriber_id, email, body_id=None),
        date=now,
    )
    return Preview(request, selection, rendered, message, would_skip, since)
