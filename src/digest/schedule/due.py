"""Who is owed a digest right now, by the clock and the ledger.

A subscriber gets the edition of their *local* date once their local send time on
that date has passed. The send time is the wall-clock ``send_hour:00`` in their zone,
resolved with ``fold=0``:

* on the spring-forward day an hour that does not exist (02:00 in New York) resolves
  to the instant just after the gap (03:00 EDT), still that local date;
* on the fall-back day an hour that happens twice resolves to its first occurrence.

Either way there is exactly one send instant per subscriber per local date, and the
ledger's unique (subscriber, edition) row is what makes the digest go out once even if
ticks repeat, overlap or run late.

Each tick looks at the subscriber's local *yesterday* and *today*: a late send hour
plus the grace window can reach past midnight, and a window that closed while the
worker was down is recorded as skipped (``missed-send-window``) instead of vanishing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Delivery, Edition, Subscriber, SubscriberStatus
from ..settings import WEEKDAYS, Schedule

log = logging.getLogger(__name__)

MISSED_SEND_WINDOW = "missed-send-window"
DEFAULT_SLOT = "daily"


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def send_instant(local_date: date, send_hour: int, zone: ZoneInfo) -> datetime:
    """The one UTC instant of ``send_hour:00`` on ``local_date`` in ``zone``.

    zoneinfo with ``fold=0`` maps a skipped wall time with the offset in force before
    the gap (so 02:00 on a spring-forward day is 03:00 after the jump) and a repeated
    wall time to its first occurrence.
    """
    local = datetime.combine(local_date, time(hour=send_hour), tzinfo=zone).replace(fold=0)
    return local.astimezone(timezone.utc)


def publishes_on(day: date, schedule: Schedule) -> bool:
    """The publication calendar: no edition on skipped weekdays or listed holidays."""
    return WEEKDAYS[day.weekday()] not in schedule.skip_weekdays and day not in schedule.holidays


@dataclass
class DueSubscribers:
    """Subscribers the ledger shows nothing for, sorted by edition date."""

    due: dict[date, list[int]] = field(default_factory=dict)  # send now
    missed: dict[date, list[int]] = field(default_factory=dict)  # window closed: record skip

    @property
    def due_count(self) -> int:
        return sum(len(ids) for ids in self.due.values())

    @property
    def missed_count(self) -> int:
        return sum(len(ids) for ids in self.missed.values())


@dataclass(frozen=True)
class _Group:
    timezone: str
    send_hour: int


def find_due(session: Session, schedule: Schedule, now: datetime) -> DueSubscribers:
    """Active subscribers owed an edition at ``now`` (aware), and those whose window closed.

    Subscribers are grouped by (time zone, send hour), so the clock arithmetic is done
    once per group, not once per subscriber.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    grace = timedelta(hours=schedule.grace_hours)
    default_zone = ZoneInfo(schedule.default_timezone)

    groups: dict[_Group, list[tuple[int, datetime | None]]] = defaultdict(list)
    rows = session.execute(
        select(Subscriber.id, Subscriber.timezone, Subscriber.send_hour, Subscriber.created_at).where(
            Subscriber.status == SubscriberStatus.ACTIVE
        )
    )
    for sub_id, tz_name, hour, created_at in rows:
        groups[_Group(tz_name or "", hour if hour is not None else schedule.default_send_hour)].append(
            (sub_id, created_at)
        )

    due: dict[date, list[int]] = defaultdict(list)
    missed: dict[date, list[int]] = defaultdict(list)
    for group, members in groups.items():
        zone = _zone(group.timezone)
        if zone is None:
            log.warning("unknown time zone %r for %d subscriber(s); using %s",
                        group.timezone, len(members), schedule.default_timezone)
            zone = default_zone
        today = now.astimezone(zone).date()
        for day in (today - timedelta(days=1), today):
            if not publishes_on(day, schedule):
                continue
            start = send_instant(day, group.send_hour, zone)
            if now < start:
                continue
            if now < start + grace:
                due[day].extend(sub_id for sub_id, _ in members)
            else:
                # Nobody is "missed" for a window that closed before they subscribed.
                missed[day].extend(
                    sub_id for sub_id, created in members if created is None or created <= start + grace
                )

    result = DueSubscribers()
    done_by_day: dict[date, set[int]] = {}
    for target, source in ((result.due, due), (result.missed, missed)):
        for day in sorted(source):
            if day not in done_by_day:
                done_by_day[day] = _subscribers_with_rows(session, day)
            done = done_by_day[day]
            owed = sorted(set(source[day]) - done)
            if owed:
                target[day] = owed
    return result


def _subscribers_with_rows(session: Session, day: date) -> set[int]:
    """Subscribers the ledger already has a row for in ``day``'s edition (any status)."""
    edition_id = session.scalar(select(Edition.id).where(Edition.date == day, Edition.slot == DEFAULT_SLOT))
    if edition_id is None:
        return set()
    return set(session.scalars(select(Delivery.subscriber_id).where(Delivery.edition_id == edition_id)))
