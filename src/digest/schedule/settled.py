"""Send windows the tick found nobody owed in, remembered until something could change that.

Why: every minute the tick asks the ledger who is owed an edition, in every send window
still open (a zone's send hour plus the grace hours) and every one that closed on the
local yesterday or today (to record who missed it). At a million readers that is an
anti-join of most of the subscriber table against the ledger, seconds of PostgreSQL's
time a minute, when almost every tick finds nobody (``benchmarks/tick.py``).

A window found empty stays empty until a subscriber is added, changes zone, send hour,
status, signup time or cadence (frequency, weekday, pause), or a ledger row is deleted (``digest send --retry-failed``,
forgetting a reader). Database triggers log each such statement in ``schedule_changes``
(migration ``tick23_changes``), whatever code ran it: the web, an import, an operator's
SQL. The tick reads the log's signature (row count, largest and summed ids: one small
query) before it looks at any window, and forgets everything it knew when the signature
moved. The order makes it safe: a change committed before that read is in the signature;
one committed after it is in the next tick's. A window whose owed readers the tick has
just planned (or recorded as missed) is settled once every one of them is counted with a
ledger row; a reader left without one (a blocked selection) keeps it open. What it knows is also forgotten after a
gap between ticks (another process held the scheduler lock meanwhile), and per process:
a new worker starts knowing nothing.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..models import ScheduleChange

#: Forget everything when the last tick of this process was longer ago than this.
MAX_GAP_SECONDS = 300.0
#: The log is pruned of rows older than a day once it holds this many.
PRUNE_AT = 1000


class SettledWindows:
    """``(kind, local date, zone, send hour)`` windows found with nobody owed, and the
    subscribers' (zone, send hour) groups, both valid while ``schedule_changes`` stands still."""

    def __init__(self, max_gap: float = MAX_GAP_SECONDS):
        self.max_gap = max_gap
        self.groups: list[tuple] | None = None  # (zone, send hour, members) of active subscribers
        self._windows: set[tuple] = set()
        self._owing: dict[tuple, list] = {}  # (kind, day) -> groups found with readers owed, this tick
        self._signature: tuple | None = None
        self._checked_at: float | None = None

    def refresh(self, session: Session) -> None:
        """Read the change log's signature; forget everything if it moved (call first)."""
        signature = _signature(session)
        if signature[0] >= PRUNE_AT:
            session.execute(delete(ScheduleChange).where(
                ScheduleChange.changed_at < datetime.now(timezone.utc) - timedelta(days=1)))
            session.commit()
            signature = _signature(session)
        self._owing.clear()
        now = time.monotonic()
        if signature != self._signature or self._checked_at is None or now - self._checked_at > self.max_gap:
            self.groups = None
            self._windows.clear()
            self._signature = signature
        self._checked_at = now

    def __contains__(self, window: tuple) -> bool:
        return window in self._windows

    def add(self, window: tuple) -> None:
        self._windows.add(window)

    def owing(self, kind: str, day, groups) -> None:
        """The groups of ``kind`` windows on ``day`` in which this tick found readers owed."""
        self._owing[(kind, day)] = list(groups)

    def written(self, kind: str, day) -> None:
        """Every reader this tick found owed in ``kind`` windows on ``day`` now has a ledger
        row (the caller counted them): those windows are settled, not asked about again."""
        for group in self._owing.pop((kind, day), ()):
            self._windows.add((kind, day, group))


def _signature(session: Session) -> tuple:
    row = session.execute(select(func.count(), func.coalesce(func.max(ScheduleChange.id), 0),
                                 func.coalesce(func.sum(ScheduleChange.id), 0))).one()
    return tuple(int(value) for value in row)
