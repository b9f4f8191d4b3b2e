"""How often a reader gets the digest: the one rule, in Python and as SQL.

A reader is ``daily`` (every edition) or ``weekly`` on a weekday (``mon`` .. ``sun``),
and may be paused until a date. Editions are dated by the reader's *local* date, so
"due on ``day``" needs no clock: the reader is weekly on ``day``'s weekday (or daily),
and ``day`` is not before ``paused_until``. :func:`is_due_on` answers it for one
reader; :func:`due_on` is the same rule as a SQL condition, for the worker's due
readers (:mod:`digest.schedule.due`), ``digest send``'s planning and ``digest status``.

The window of the first digest after a pause. Without a rule it would carry everything
since the last digest before the pause (up to the selection's two-week look-back). We
pick up from the pause instead: the first digest after it carries what a regular one
would, the news since the reader's regular send one period (a day, a week) before it,
or since their last digest if that is later. That instant is stored when the pause is
set or changed (``resume_window_start``), because it depends on the reader's zone,
hour and frequency, which planning does not read; :func:`window_start_column` gives
planning the later of the two as one column. A zone, hour or frequency change goes
through :func:`apply_cadence`, which recomputes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, or_, type_coerce

from ..errors import DigestError
from ..models import Subscriber
from ..models.base import AwareDateTime
from ..settings import WEEKDAYS

DAILY = "daily"
WEEKLY = "weekly"
FREQUENCIES = (DAILY, WEEKLY)
#: Weekday names accepted on input, to their stored short form (``mon`` .. ``sun``).
_WEEKDAY_NAMES = {name: name for name in WEEKDAYS} | {
    full: short for full, short in zip(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), WEEKDAYS)
}
WEEKDAY_TITLES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))


class CadenceError(DigestError, ValueError):
    """A frequency, weekday or pause date that cannot be stored; the message names which."""


@dataclass(frozen=True)
class Cadence:
    frequency: str = DAILY
    weekday: str | None = None  # ``mon`` .. ``sun`` when weekly, else None
    paused_until: date | None = None


def parse_cadence(frequency: str | None, weekday: str | None, paused_until: str | None) -> Cadence:
    """Checked values from text (a form or a CSV line); empty means daily, not paused.
    Raises :class:`CadenceError` naming the field that is wrong."""
    freq = (frequency or "").strip().lower() or DAILY
    if freq not in FREQUENCIES:
        raise CadenceError(f"frequency must be daily or weekly, got {frequency!r}")
    day = (weekday or "").strip().lower()
    short = None
    if freq == WEEKLY:
        if not day:
            raise CadenceError("weekday is required when frequency is weekly (mon, tue, ... sun)")
        short = _WEEKDAY_NAMES.get(day)
        if short is None:
            raise CadenceError(f"weekday must be a day of the week (mon, tue, ... sun), got {weekday!r}")
    pause = None
    if paused_until and paused_until.strip():
        try:
            pause = date.fromisoformat(paused_until.strip())
        except ValueError:
            raise CadenceError(f"paused_until must be a date as YYYY-MM-DD, got {paused_until!r}") from None
    return Cadence(freq, short, pause)


def cadence_of(reader) -> Cadence:
    return Cadence(reader.frequency or DAILY, reader.weekday, reader.paused_until)


def current_cadence(reader, now: datetime) -> Cadence:
    """The reader's cadence as it stands at ``now``: a pause that is over reads as none."""
    today = now.astimezone(zone_of(reader.timezone) or ZoneInfo("UTC")).date()
    cadence = cadence_of(reader)
    return cadence if is_paused(reader, today) else Cadence(cadence.frequency, cadence.weekday)


# ---------------------------------------------------------------- the rule


def is_due_on(reader, day: date) -> bool:
    """Whether ``reader`` (anything with ``frequency``, ``weekday``, ``paused_until``)
    gets the edition of their local date ``day``, the publication calendar aside."""
    if reader.paused_until is not None and day < reader.paused_until:
        return False
    return reader.frequency != WEEKLY or reader.weekday == WEEKDAYS[day.weekday()]


def due_on(day: date):
    """:func:`is_due_on` as a SQL condition on ``subscribers``."""
    return and_(
        or_(Subscriber.frequency != WEEKLY, Subscriber.weekday == WEEKDAYS[day.weekday()]),
        or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= day),
    )


def is_paused(reader, today: date) -> bool:
    """Paused on the reader's local date ``today``: no digest today, for the pause."""
    return reader.paused_until is not None and today < reader.paused_until


def period(frequency: str) -> timedelta:
    return timedelta(days=7 if frequency == WEEKLY else 1)


# ---------------------------------------------------------------- when


@lru_cache(maxsize=1024)
def zone_of(name: str) -> ZoneInfo | None:
    """The zone, or None for a name this system does not know."""
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


def first_due_date(cadence: Cadence, on_or_after: date) -> date:
    """The first local date from ``on_or_after`` the reader is due (calendar aside)."""
    day = max(on_or_after, cadence.paused_until or on_or_after)
    if cadence.frequency == WEEKLY:
        day += timedelta(days=(WEEKDAYS.index(cadence.weekday) - day.weekday()) % 7)
    return day


def next_send(reader, zone: ZoneInfo, after: datetime, publishes: Callable[[date], bool],
              horizon_days: int = 400) -> datetime | None:
    """The next send instant after ``after`` of a reader of this zone (their ``send_hour``
    and cadence), on a date the publication publishes; None within ``horizon_days``."""
    cadence = cadence_of(reader)
    day = after.astimezone(zone).date() - timedelta(days=1)
    last = day + timedelta(days=horizon_days)
    while day <= last:
        day = first_due_date(cadence, day)
        if day > last:
            return None
        instant = send_instant(day, reader.send_hour, zone)
        if instant > after and publishes(day):
            return instant
        day += timedelta(days=1)
    return None


# ---------------------------------------------------------------- setting it


def apply_cadence(subscriber: Subscriber, cadence: Cadence, now: datetime) -> None:
    """The one place a reader's frequency and pause are set; call it after their zone or
    hour changed too. A pause date not after the reader's local today pauses nothing.
    Ending a pause early (``paused_until`` None while paused) is "resume now": the
    window picks up one period before the reader's first due date from today, like the
    end of any pause."""
    zone = zone_of(subscriber.timezone) or ZoneInfo("UTC")
    today = now.astimezone(zone).date()
    was_paused = is_paused(subscriber, today)
    pause = cadence.paused_until if cadence.paused_until is not None and cadence.paused_until > today else None
    subscriber.frequency = cadence.frequency
    subscriber.weekday = cadence.weekday if cadence.frequency == WEEKLY else None
    subscriber.paused_until = pause
    if pause is not None:
        subscriber.resume_window_start = _regular_send_before(cadence_of(subscriber), pause, subscriber.send_hour, zone)
    elif was_paused:
        # From today: if today's send is still owed (its hour to come, or within the
        # worker's grace), it carries a regular period; if not, the next one a little more.
        subscriber.resume_window_start = _regular_send_before(cadence_of(subscriber), today, subscriber.send_hour, zone)


def _regular_send_before(cadence: Cadence, resume_on: date, send_hour: int, zone: ZoneInfo) -> datetime:
    """The reader's regular send one period before their first due date from ``resume_on``."""
    first = first_due_date(Cadence(cadence.frequency, cadence.weekday), resume_on)
    return send_instant(first - period(cadence.frequency), send_hour, zone)


# ---------------------------------------------------------------- the window


def window_start(reader) -> datetime | None:
    """Where the reader's next digest starts its window: their last digest, or, when
    later, the regular send before their first digest after a pause. None: never sent,
    never paused (selection then uses its new-reader window)."""
    last, resumed = reader.last_digest_at, getattr(reader, "resume_window_start", None)
    if resumed is None or (last is not None and last >= resumed):
        return last
    return resumed


def window_start_column():
    """:func:`window_start` as one SQL column (the later of two timestamps, NULLs aside)."""
    last, resumed = Subscriber.__table__.c.last_digest_at, Subscriber.__table__.c.resume_window_start
    later = case((and_(resumed.is_not(None), or_(last.is_(None), resumed > last)), resumed), else_=last)
    return type_coerce(later, AwareDateTime()).label("last_digest_at")
