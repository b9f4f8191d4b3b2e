"""A database with many subscribers and a few fresh briefings, written directly with
SQLAlchemy (fast enough for thousands), and a reader for the ledger afterwards."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Sequence

from sqlalchemy import insert, select, update

from digest.models import Batch, Briefing, Delivery, Subscriber, Topic, subscriber_topics
from digest.runtime import Runtime
from digest.settings import Settings

from .batches import email_for

#: Three distinct topic sets (three bodies); "lithium" alone three times as common, so
#: 2,500 subscribers make batches of 1,000 + 500 (lithium), 500 (gold) and 500 (both).
TOPIC_SETS: tuple[tuple[str, ...], ...] = (("lithium",), ("lithium",), ("lithium",), ("gold",), ("lithium", "gold"))


def fresh_briefings(topics: dict[str, Topic], slugs: Sequence[str], now: datetime) -> list[Briefing]:
    """One briefing per topic slug, titled "<Slug> today", published an hour or more before ``now``."""
    return [
        Briefing(
            guid=f"seed-{slug}", url=f"https://ridgeline.example/b/{slug}", title=f"{slug.title()} today",
            body_html=f"<p>What moved {slug} today.</p>", excerpt=f"{slug} news.", author="A. Writer",
            published_at=now - timedelta(hours=1 + n),
            attribution="Information for this briefing was found via a company news release.",
            author_disclosure="The author holds no position in the companies named.",
            content_hash=hashlib.sha256(slug.encode()).hexdigest(), topics=[topics[slug]],
        )
        for n, slug in enumerate(slugs)
    ]


def seed_edition(settings: Settings, subscribers: int, *, topic_sets: Sequence[tuple[str, ...]] = TOPIC_SETS) -> list[str]:
    """Insert ``subscribers`` active subscribers (cycling through ``topic_sets``) and one
    fresh briefing per topic; returns the addresses in id order."""
    runtime = Runtime.open(settings)
    now = datetime.now(timezone.utc)
    emails = [email_for(n) for n in range(1, subscribers + 1)]
    try:
        with runtime.session() as session:
            by_slug = {t.slug: t for t in session.scalars(select(Topic))}
            slugs = sorted({s for group in topic_sets for s in group})
            session.add_all(fresh_briefings(by_slug, slugs, now))
            session.execute(insert(Subscriber), [
                {"id": i + 1, "email": email, "status": "active", "timezone": "UTC", "send_hour": 7,
                 "consent_source": "test", "consented_at": now, "created_at": now, "updated_at": now}
                for i, email in enumerate(emails)
            ])
            session.execute(insert(subscriber_topics), [
                {"subscriber_id": i + 1, "topic_id": by_slug[slug].id}
                for i in range(subscribers)
                for slug in topic_sets[i % len(topic_sets)]
            ])
    finally:
        runtime.close()
    return emails


def read(settings: Settings, statement) -> list:
    """The rows of one query, on a runtime opened (and closed) for it."""
    runtime = Runtime.open(settings, migrate=False)
    try:
        with runtime.session() as session:
            return session.execute(statement).all()
    finally:
        runtime.close()


def ledger(settings: Settings) -> dict[str, tuple[str, str]]:
    """email -> (delivery status, batch status) for every delivery row."""
    rows = read(settings, select(Subscriber.email, Delivery.status, Batch.status)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                .join(Batch, Batch.id == Delivery.batch_id, isouter=True))
    return {email.lower(): (d_status, b_status) for email, d_status, b_status in rows}


def batch_statuses(settings: Settings) -> Counter[str]:
    return Counter(status for (status,) in read(settings, select(Batch.status)))


def outbox_recipients(outbox: Path) -> Counter:
    """How many messages each address got in an outbox folder."""
    return Counter(str(BytesParser(policy=policy.default).parsebytes(p.read_bytes())["To"]).lower()
                   for p in outbox.glob("*.eml"))


def settle_as_failed(runtime: Runtime, edition_id: int) -> None:
    """Settle an edition's batches and queued rows as ``failed``: no longer in flight (so
    its readers can be planned into another edition) and nobody's last digest moved, as
    if it had never been planned."""
    with runtime.session() as session:
        session.execute(update(Batch).where(Batch.edition_id == edition_id).values(status="failed"))
        session.execute(update(Delivery).where(Delivery.edition_id == edition_id, Delivery.status == "queued")
                        .values(status="failed"))
