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

Only readers due on that date by their frequency and pause
(:func:`digest.subscribers.cadence.due_on`) are owed its edition: a weekly reader on
other days, or a paused one, is neither due nor missed.

Each tick looks at the subscriber's local *yesterday* and *today*: a late send hour
plus the grace window can reach past midnight, and a window that closed while the
worker was down is recorded as skipped (``missed-send-window``) instead of vanishing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ..models import Delivery, Edition, Subscriber, SubscriberStatus
from ..settings import WEEKDAYS, Schedule
from ..subscribers.cadence import due_on, send_instant, zone_of
from .settled import SettledWindows

__all__ = ["DueSubscribers", "MISSED_SEND_WINDOW", "find_due", "publishes_on", "send_instant"]

log = logging.getLogger(__name__)

MISSED_SEND_WINDOW = "missed-send-window"
DEFAULT_SLOT = "daily"


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


@dataclass(frozen=True)
class _Group:
    timezone: str
    send_hour: int


def find_due(session: Session, schedule: Schedule, now: datetime, settled: SettledWindows | None = None,
             *, kinds: tuple[str, ...] = ("due", "missed"), refresh: bool = True,
             opened_since: datetime | None = None, opened_before: datetime | None = None) -> DueSubscribers:
    """Active subscribers owed an edition at ``now`` (aware), and those whose window closed.

    The clock arithmetic is done once per (time zone, send hour) group, read with one
    GROUP BY; the subscribers of the groups that are due are then read with one query per
    edition date that leaves out, in the database, everyone the ledger already has a row
    for. So a tick costs a few indexed queries, not a scan of the whole list in Python.
    With ``settled`` (the tick's), the groups and the windows found with nobody owed are
    remembered until a subscriber or the ledger changes (:mod:`.settled`): a tick with
    nobody due then asks the database nothing here but that.

    ``kinds`` names the windows asked about: ``"due"`` (open) and ``"missed"`` (closed).
    The tick asks about the open ones first and the closed ones once its planning is
    done: a new worker knows no window settled, and the closed windows of the local
    yesterday and today are most of the subscriber table (seconds at a million readers)
    that the readers due now need not wait for. Its second call passes ``refresh=False``:
    the change log's signature is read once a tick, before any window is looked at.
    ``opened_since`` / ``opened_before`` keep the open windows whose send instant is at or
    after / before that moment: the tick asks about the windows opened in the last hour
    first (the ones a worker that kept ticking finds readers in), the older ones after.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    grace = timedelta(hours=schedule.grace_hours)
    default_zone = ZoneInfo(schedule.default_timezone)
    active = Subscriber.status == SubscriberStatus.ACTIVE

    due: dict[date, list[_Group]] = defaultdict(list)
    missed: dict[date, list[tuple[_Group, datetime]]] = defaultdict(list)  # with the window's close
    if settled is not None and refresh:
        settled.refresh(session)
    groups = settled.groups if settled is not None else None
    if groups is None:
        groups = session.execute(
            select(Subscriber.timezone, Subscriber.send_hour, func.count()).where(active)
            .group_by(Subscriber.timezone, Subscriber.send_hour)
        ).all()
        if settled is not None:
            settled.groups = groups
    known = settled if settled is not None else ()
    for tz_name, hour, members in groups:
        group = _Group(tz_name, hour)
        zone = zone_of(tz_name)
        if zone is None:
            if refresh:  # once a tick, not once per question
                log.warning("unknown time zone %r for %d subscriber(s); using %s",
                            tz_name, members, schedule.default_timezone)
            zone = default_zone
        today = now.astimezone(zone).date()
        for day in (today - timedelta(days=1), today):
            if not publishes_on(day, schedule):
                continue
            start = send_instant(day, hour, zone)
            if now < start:
                continue
            if now < start + grace:
                if ("due" in kinds and ("due", day, group) not in known
                        and (opened_since is None or start >= opened_since)
                        and (opened_before is None or start < opened_before)):
                    due[day].append(group)
            elif "missed" in kinds and ("missed", day, group) not in known:
                missed[day].append((group, start + grace))

    result = DueSubscribers()
    for day in sorted(due):
        owed = _owed(session, day, active & _in_groups(due[day]) & due_on(day), due[day], "due", settled)
        if owed:
            result.due[day] = owed
    for day in sorted(missed):
        # Nobody is "missed" for a window that closed before they subscribed.
        closed_after_signup = or_(*(
            and_(_in_groups([group]), Subscriber.created_at <= closed) for group, closed in missed[day]
        ))
        owed = _owed(session, day, active & closed_after_signup & due_on(day), [g for g, _ in missed[day]],
                     "missed", settled)
        if owed:
            result.missed[day] = owed
    return result


def _in_groups(groups: list[_Group]):
    return tuple_(Subscriber.timezone, Subscriber.send_hour).in_([(g.timezone, g.send_hour) for g in groups])


def _owed(session: Session, day: date, condition, groups: list[_Group], kind: str,
          settled: SettledWindows | None) -> list[int]:
    """Ids of subscribers matching ``condition`` with no ledger row in ``day``'s edition;
    the ``groups`` none of them is in are added to ``settled``."""
    query = select(Subscriber.id, Subscriber.timezone, Subscriber.send_hour).where(condition)
    edition_id = session.scalar(select(Edition.id).where(Edition.date == day, Edition.slot == DEFAULT_SLOT))
    if edition_id is not None:
        query = query.where(~exists().where(Delivery.subscriber_id == Subscriber.id,
                                            Delivery.edition_id == edition_id))
    rows = session.execute(query.order_by(Subscriber.id)).all()
    if settled is not None:
        owing = {_Group(tz_name, hour) for _, tz_name, hour in rows}
        for group in groups:
            if group not in owing:
                settled.add((kind, day, group))
        settled.owing(kind, day, owing)
    return [row[0] for row in rows]
