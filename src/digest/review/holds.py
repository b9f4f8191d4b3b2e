"""Whether an editor holds (or cancelled) an edition: read before each batch starts, beside
the guards (:func:`digest.report.guards.held_reason`), so a hold stops an edition that is
sending within one batch: batches in flight finish and settle, the next ones stay queued.
Only the models here: the batch path imports it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..models import Edition, EditionControl

_controls = EditionControl.__table__
_editions = Edition.__table__


def edition_hold(db: Session | Connection, edition_id: int) -> str | None:
    """Why an editor stops this edition's batches (held or cancelled), or None."""
    row = db.execute(select(_controls.c.held_at, _controls.c.held_by, _controls.c.cancelled_at, _editions.c.date)
                     .join(_editions, _editions.c.id == _controls.c.edition_id)
                     .where(_controls.c.edition_id == edition_id)).first()
    if row is None:
        return None
    return hold_message(row.held_at, row.held_by, row.cancelled_at, row.date)


def hold_message(held_at: datetime | None, held_by: str | None, cancelled_at: datetime | None,
                 edition_date: date) -> str | None:
    """What :func:`edition_hold` answers for an edition's control row (its columns)."""
    if cancelled_at is not None:
        return f"edition {edition_date} was cancelled"
    if held_at is not None:
        return (f"edition {edition_date} is held by {held_by} since {held_at:%Y-%m-%d %H:%M}Z; "
                f"'digest resume --date {edition_date}' goes on")
    return None
