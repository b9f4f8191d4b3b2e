"""The items an edition may carry once it is drafted for review (:mod:`digest.review`).

A drafted edition's snapshot fixes its items: selection takes only those, so an item
published (or ingested) after the draft waits for the next edition. And a reader's next
window starts at the snapshot's cut, not at the moment their email went out
(:func:`window_end`): what was left out of a drafted edition comes in the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Edition, EditionSnapshot

DEFAULT_SLOT = "daily"
_snapshots = EditionSnapshot.__table__


@dataclass(frozen=True)
class SnapshotItems:
    briefing_ids: frozenset[int]
    video_ids: frozenset[int]


def parse_ids(text: str) -> frozenset[int]:
    return frozenset(int(part) for part in text.split(",") if part)


def snapshot_items(session: Session, edition_date: date, slot: str = DEFAULT_SLOT) -> SnapshotItems | None:
    """The current snapshot's items of that edition; None when it was never drafted."""
    row = session.execute(
        select(_snapshots.c.briefing_ids, _snapshots.c.video_ids)
        .join(Edition, Edition.id == _snapshots.c.edition_id)
        .where(Edition.date == edition_date, Edition.slot == slot)
        .order_by(_snapshots.c.version.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return SnapshotItems(parse_ids(row.briefing_ids), parse_ids(row.video_ids))


def snapshots_around(session: Session, day: date, days: int = 2) -> dict[date, SnapshotItems | None]:
    """The current snapshot (or None) of every edition from ``days`` before ``day`` to
    ``days`` after, in one query: the dates a selector made now is asked about."""
    found: dict[date, SnapshotItems | None] = {day + timedelta(days=n): None for n in range(-days, days + 1)}
    rows = session.execute(
        select(Edition.date, _snapshots.c.briefing_ids, _snapshots.c.video_ids)
        .join(Edition, Edition.id == _snapshots.c.edition_id)
        .where(Edition.date.between(day - timedelta(days=days), day + timedelta(days=days)),
               Edition.slot == DEFAULT_SLOT)
        .order_by(_snapshots.c.version)
    ).all()
    for edition_date, briefing_ids, video_ids in rows:  # the highest version last
        found[edition_date] = SnapshotItems(parse_ids(briefing_ids), parse_ids(video_ids))
    return found


def window_end(deliveries):
    """For recording readers' last digest from their sent ``deliveries`` rows: a
    (FROM clause, time column) pair where the time is the cut of the snapshot the reader's
    email was made from (the latest of their edition taken before it went), else the time
    it went. One hash join with the snapshot table (a few rows a day), not a lookup per row.
    """
    joined = deliveries.outerjoin(_snapshots, (_snapshots.c.edition_id == deliveries.c.edition_id)
                                  & (_snapshots.c.taken_at <= deliveries.c.sent_at))
    return joined, func.coalesce(_snapshots.c.taken_at, deliveries.c.sent_at)
