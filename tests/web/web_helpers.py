"""Helpers for the web tests: subscribers, their state, and signed SendGrid posts."""

from __future__ import annotations

from sqlalchemy import select

from digest.models import Subscriber, Topic
from digest.runtime import Runtime
from fakes.signed_events import public_key_b64, sign  # noqa: F401  (the web tests' names for them)


def path_of(url: str) -> str:
    """``https://digest.test/unsubscribe/abc`` -> ``/unsubscribe/abc`` for the test client."""
    return "/" + url.split("/", 3)[3]


def add_subscriber(
    runtime: Runtime, email: str, *, topics=("gold",), status: str = "active",
    timezone: str = "America/Toronto", send_hour: int = 7,
) -> int:
    with runtime.session() as session:
        subscriber = Subscriber(email=email, status=status, timezone=timezone, send_hour=send_hour)
        subscriber.topics = list(session.scalars(select(Topic).where(Topic.slug.in_(topics))))
        session.add(subscriber)
        session.flush()
        return subscriber.id


def subscriber_state(runtime: Runtime, subscriber_id: int) -> dict:
    with runtime.session() as session:
        s = session.get(Subscriber, subscriber_id)
        return {
            "status": s.status,
            "status_changed_at": s.status_changed_at,
            "topics": s.topic_slugs,
            "timezone": s.timezone,
            "send_hour": s.send_hour,
        }
