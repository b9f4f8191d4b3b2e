"""A clock that only moves when told to, for the scheduler's tests (it satisfies
:class:`digest.schedule.clock.Clock`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime):
        self._now = _aware_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = _aware_utc(when)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def _aware_utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: give an aware one")
    return when.astimezone(timezone.utc)
