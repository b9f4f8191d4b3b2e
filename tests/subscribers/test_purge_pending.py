"""Signups never confirmed are forgotten after 30 days (with their topics and consent
records); nobody else is touched."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from digest.models import ConsentRecord, Subscriber, Topic, subscriber_topics
from digest.subscribers.consent import Evidence, record_consent
from digest.subscribers.signup import purge_pending

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def test_only_signups_pending_for_30_days_are_forgotten(runtime):
    people = [("old@example.com", "pending", 31), ("recent@example.com", "pending", 29),
              ("left@example.com", "unsubscribed", 40), ("reader@example.com", "active", 60)]
    with runtime.session() as session:
        gold = session.scalars(select(Topic).where(Topic.slug == "gold")).one()
        for email, status, days in people:
            subscriber = Subscriber(email=email, status=status, status_changed_at=NOW - timedelta(days=days),
                                    topics=[gold])
            session.add(subscriber)
            session.flush()
            record_consent(session, subscriber.id, "signup", Evidence(client_ip="192.0.2.7"), at=NOW)
    with runtime.session() as session:
        assert purge_pending(session, now=NOW) == 1
    with runtime.session() as session:
        assert purge_pending(session, now=NOW) == 0
        kept = sorted(session.scalars(select(Subscriber.email)))
        assert kept == ["left@example.com", "reader@example.com", "recent@example.com"]
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 3
        assert session.scalar(select(func.count()).select_from(subscriber_topics)) == 3


def test_a_purged_signup_keeps_no_ledger_row(runtime):
    """The ledger's subscriber is no foreign key (digest.deliver.ledger.erasure): the purge
    deletes a purged reader's delivery rows itself, and nobody else's."""
    from digest.models import Delivery, Edition

    with runtime.session() as session:
        old = Subscriber(email="old@example.com", status="pending", status_changed_at=NOW - timedelta(days=31))
        reader = Subscriber(email="reader@example.com", status="active", status_changed_at=NOW - timedelta(days=60))
        edition = Edition(date=NOW.date())
        session.add_all([old, reader, edition])
        session.flush()
        session.add_all([Delivery(edition_id=edition.id, subscriber_id=s.id, status="skipped", created_at=NOW)
                         for s in (old, reader)])
        reader_id = reader.id
    with runtime.session() as session:
        assert purge_pending(session, now=NOW) == 1
    with runtime.session() as session:
        assert session.execute(select(Delivery.subscriber_id, Delivery.status)).all() == [(reader_id, "skipped")]
