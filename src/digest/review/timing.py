"""When an edition must be drafted, and since when its readers wait: the local send
instants of the active readers' (zone, hour) groups, as the worker computes them
(:func:`digest.schedule.due.send_instant`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Subscriber, SubscriberStatus
from ..schedule.due import publishes_on, send_instant
from ..settings import PublicationConfig


def _groups(session: Session, config: PublicationConfig) -> list[tuple[ZoneInfo, int]]:
    rows = session.execute(select(Subscriber.timezone, Subscriber.send_hour).distinct()
                           .where(Subscriber.status == SubscriberStatus.ACTIVE)).all()
    groups = []
    for name, hour in rows:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo(config.schedule.default_timezone)  # as the worker does
        groups.append((zone, hour))
    return groups


def editions_to_draft(session: Session, config: PublicationConfig, now: datetime) -> list[date]:
    """Edition dates whose first reader's hour is at most ``draft_lead`` away (or passed,
    within the catch-up window), on the publication calendar."""
    lead = config.review.draft_lead
    grace = timedelta(hours=config.schedule.grace_hours)
    days = set()
    for zone, hour in _groups(session, config):
        today = now.astimezone(zone).date()
        for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
            instant = send_instant(day, hour, zone)
            if instant - lead <= now < instant + grace and publishes_on(day, config.schedule):
                days.add(day)
    return sorted(days)


def waiting_since(session: Session, config: PublicationConfig, day: date, now: datetime) -> datetime | None:
    """The first reader's hour of ``day`` if it has passed (readers wait since then), else None."""
    passed = [send_instant(day, hour, zone) for zone, hour in _groups(session, config)]
    passed = [instant for instant in passed if instant <= now]
    return min(passed) if passed else None
