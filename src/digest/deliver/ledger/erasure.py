"""Erasing readers while planners write the ledger.

``deliveries.subscriber_id`` is not a foreign key (a per-row trigger that looked up and
key-share-locked each reader's row: 40-55% of the delivery INSERT's time in PostgreSQL).
Two things it guaranteed are kept by hand:

* whoever deletes subscriber rows deletes their delivery rows (:func:`erase_deliveries`);
* a planner that read a reader before they were erased writes no row for them after.
  Every INSERT into ``deliveries`` takes its readers from ``subscribers`` in the same
  statement (a look-up by key), so a reader already erased when it runs is left out; and on
  PostgreSQL the erasing transaction and every transaction that inserts delivery rows
  take one advisory lock, exclusive and shared (:func:`writing_deliveries`), so they do
  not overlap: an erase waits for the writes in flight to commit and then deletes their
  rows too, and a write that starts after the erase began waits for its commit and then
  no longer finds the reader. Each statement of a READ COMMITTED transaction sees what
  was committed before it started, so the lock is taken by a statement of its own, before
  the INSERT or the DELETE. Each takes it before locking any delivery or subscriber row:
  an erase waits for it holding none, and a writer never holds a row an erase waiting
  for it would delete (no deadlock). New code that deletes subscribers or inserts
  delivery rows must do the same (``insert_deliveries`` does both parts of a write).

SQLite needs no lock: one writer at a time holds the database's write lock from its
first write to its commit, and a writing statement reads the newest data under it; an
erase committed before the INSERT ran is seen by its join, and one that comes after
the planner's commit deletes what it wrote.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from ...models import Delivery
from .reader_rows import in_any_edition

#: The advisory lock's key ("digest" in ASCII, then 1): one for the whole database.
ERASURE_LOCK = 0x6469676573740001

_SHARED = text(f"SELECT pg_advisory_xact_lock_shared({ERASURE_LOCK})")
_EXCLUSIVE = text(f"SELECT pg_advisory_xact_lock({ERASURE_LOCK})")


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def writing_deliveries(session: Session) -> None:
    """Before the first INSERT into ``deliveries`` of a transaction (and before it locks
    any delivery row): no reader is erased until it ends. Cheap (a shared lock, released
    at commit); taking it again in the same transaction costs one round trip."""
    if _postgresql(session):
        session.execute(_SHARED)


def erasing_readers(session: Session) -> None:
    """Before an erasing transaction reads or deletes any delivery row: waits for the
    transactions inserting delivery rows to end, and keeps new ones waiting until it ends."""
    if _postgresql(session):
        session.execute(_EXCLUSIVE)


def erase_deliveries(session: Session, subscriber_ids: Iterable[int]) -> int:
    """Delete these readers' delivery rows (the caller has called :func:`erasing_readers`
    and deletes the subscriber rows in the same transaction); returns how many. Found
    edition by edition (:mod:`.reader_rows`)."""
    ids = sorted(set(subscriber_ids))
    if not ids:
        return 0
    return session.execute(delete(Delivery).where(in_any_edition(session), Delivery.subscriber_id.in_(ids))).rowcount
