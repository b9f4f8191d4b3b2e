"""Editions (a date and a send slot) and their pending batches."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ...models import Batch, BatchStatus, Edition


def _now() -> datetime:
    return datetime.now(timezone.utc)


def insert_for(session: Session, model):
    """An INSERT that supports ``on_conflict_do_nothing`` on SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"the ledger supports SQLite and PostgreSQL, not {dialect}")


# ----------------------------------------------------------------- editions


def get_or_create_edition(session: Session, edition_date: date, slot: str = "daily") -> Edition:
    """The edition for ``edition_date``/``slot``; created if missing, safe under races
    (the insert does nothing when a concurrent process created it first)."""
    stmt = insert_for(session, Edition).values(date=edition_date, slot=slot, created_at=_now())
    session.execute(stmt.on_conflict_do_nothing(index_elements=["date", "slot"]))
    session.commit()
    return session.scalars(select(Edition).where(Edition.date == edition_date, Edition.slot == slot)).one()


def find_edition(session: Session, edition_date: date, slot: str = "daily") -> Edition | None:
    return session.scalars(select(Edition).where(Edition.date == edition_date, Edition.slot == slot)).one_or_none()



def pending_batch_ids(session: Session, edition_id: int) -> list[int]:
    return list(session.scalars(
        select(Batch.id).where(Batch.edition_id == edition_id, Batch.status == BatchStatus.PENDING).order_by(Batch.number)
    ))
