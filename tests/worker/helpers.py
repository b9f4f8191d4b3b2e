"""Fakes for the worker tests: a provider that records when (on the test clock) each
recipient was sent, a selector that never comes back empty, and a cheap renderer."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select

from digest.content import BriefingItem, RenderedEmail, Selection, TopicSection
from digest.deliver.providers.base import OutgoingBatch, SendResult
from digest.models import Subscriber, Topic, subscriber_topics
from digest.runtime import Runtime
from digest.settings import bundled_config_path

PUBLISHED = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Sent:
    at: datetime  # on the test clock
    email: str
    edition_date: date


class ClockedProvider:
    """Records every recipient with the test clock's time of sending."""

    name = "fake"

    def __init__(self, clock, max_recipients: int = 1000):
        self.clock = clock
        self.max_recipients = max_recipients
        self.sent: list[Sent] = []

    def send(self, batch: OutgoingBatch) -> SendResult:
        now = self.clock.now()
        self.sent.extend(Sent(now, r.email, batch.edition_date) for r in batch.recipients)
        return SendResult(message_id=f"fake-{batch.batch_id}")

    def close(self) -> None:
        pass


class AlwaysSomethingSelector:
    """One briefing per followed topic, whatever the date: selections are never empty."""

    def for_subscriber(self, subscriber: Subscriber, edition_date: date) -> Selection:
        topics = tuple(subscriber.topic_slugs) or ("general",)
        sections = tuple(
            TopicSection(slug, slug.title(), (BriefingItem(
                id=i, url=f"https://example.com/{slug}", title=f"News on {slug}", body_html="<p>x</p>",
                excerpt="x", author="A", published_at=PUBLISHED, date_label="1 Jan 2026", topics=(slug,),
                attribution="Source", author_disclosure="none", sponsor=None),))
            for i, slug in enumerate(topics)
        )
        return Selection(edition_date, topics, sections=sections)


class PlainRenderer:
    def render(self, selection: Selection) -> RenderedEmail:
        return RenderedEmail(
            subject=f"Digest {selection.edition_date}", preheader="",
            html='<html><body><a href="%%unsubscribe_url%%">Unsubscribe</a></body></html>',
            text="Unsubscribe: %%unsubscribe_url%%\n", tokens=frozenset({"unsubscribe_url"}),
        )


def add_subscriber(runtime: Runtime, email: str, tz: str, send_hour: int, *, topics=("gold",),
                   created_at: datetime | None = None) -> int:
    with runtime.session() as session:
        by_slug = {t.slug: t for t in session.scalars(select(Topic))}
        row = Subscriber(email=email, timezone=tz, send_hour=send_hour, topics=[by_slug[t] for t in topics])
        if created_at is not None:
            row.created_at = created_at
        session.add(row)
        session.flush()
        return row.id


def with_schedule(runtime: Runtime, **changes) -> Runtime:
    """The same database, with ``[schedule]`` settings changed."""
    config = runtime.settings.config
    schedule = config.schedule.model_copy(update=changes)
    settings = runtime.settings.with_overrides(config=config.model_copy(update={"schedule": schedule}))
    return Runtime(settings, runtime.engine, runtime.sessions)


def write_config(path: Path, *, nothing_new: str = "note") -> Path:
    """The bundled sample config, sending even when there is nothing new, without sources
    (a worker under test must not ingest the samples on an ingest boundary)."""
    text = bundled_config_path().read_text()
    text = text.replace('nothing_new = "skip"', f'nothing_new = "{nothing_new}"')
    text = text.split("[[sources]]", 1)[0]
    path.write_text(text)
    return path


def add_briefings(runtime: Runtime, published_at: datetime) -> None:
    """One complete briefing per configured topic, so readers of different topics get
    different bodies (and therefore different batches)."""
    from digest.models import Briefing

    with runtime.session() as session:
        for topic in session.scalars(select(Topic)):
            session.add(Briefing(
                guid=f"test-{topic.slug}", url=f"https://example.com/{topic.slug}", title=f"{topic.title} today",
                body_html=f"<p>{topic.title} moved.</p>", excerpt=f"{topic.title} moved.", author="Desk",
                published_at=published_at, attribution="Company filings", author_disclosure="none",
                content_hash=topic.slug, topics=[topic],
            ))


def add_due_subscribers(runtime: Runtime, count: int, topic_sets: int) -> None:
    """``count`` readers in UTC whose send hour passed an hour ago (due now), spread over
    ``topic_sets`` pairs of topics (so as many bodies, and batches of count/topic_sets)."""
    hour = (datetime.now(timezone.utc) - timedelta(hours=1)).hour
    with runtime.session() as session:
        topics = list(session.scalars(select(Topic).order_by(Topic.slug)))
        sets = list(itertools.islice(itertools.combinations(topics, 2), topic_sets))
        conn = session.connection()
        now = datetime.now(timezone.utc)
        ids = conn.execute(insert(Subscriber).returning(Subscriber.id, sort_by_parameter_order=True), [
            {"email": f"reader{n:05d}@example.org", "status": "active", "timezone": "UTC", "send_hour": hour,
             "created_at": now, "updated_at": now} for n in range(count)
        ]).scalars().all()
        conn.execute(insert(subscriber_topics), [
            {"subscriber_id": sid, "topic_id": t.id} for n, sid in enumerate(ids) for t in sets[n % topic_sets]
        ])


def seed_due_edition(settings, subscribers: int, topic_sets: int) -> None:
    """A database for worker processes: ``subscribers`` readers due now over
    ``topic_sets`` bodies, and a briefing per topic from two hours ago."""
    runtime = Runtime.open(settings)
    try:
        add_due_subscribers(runtime, subscribers, topic_sets)
        add_briefings(runtime, datetime.now(timezone.utc) - timedelta(hours=2))
    finally:
        runtime.close()
