"""Hold, resume, redraft and cancel an edition.

* **hold**: no batch of the edition starts from now on (each batch checks before it starts,
  :mod:`.holds`); batches in flight finish and settle, the others stay queued; the worker
  plans nobody new into it. Nothing is lost or doubled: the ledger is untouched.
* **resume**: lifts the hold; the queued batches go with the next tick or ``digest send``.
* **redraft**: a new snapshot (and bodies, and proofs). Readers already sent to keep what
  they got; the batches not started are taken apart (their readers, and those who had
  nothing new, are unplanned again), so only readers not yet sent to get the new content,
  once it is approved (``approval = "required"``).
* **cancel**: for good. The batches not started are taken apart and every reader not sent
  to (queued, or not planned yet) is recorded as skipped (``cancelled``).

A batch is taken apart only while it is ``pending`` (one DELETE whose rows say which):
one being claimed at that moment is either deleted first (its claim then finds nothing)
or claimed first (it then sees the hold and goes back to the queue, or sends). Redraft and
cancel wait a little for batches being sent to settle, and stop if they do not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, exists, func, literal, select, update
from sqlalchemy.orm import Session

from ..deliver.ledger import find_edition, get_or_create_edition, insert_for
from ..deliver.ledger.erasure import writing_deliveries
from ..models import Batch, BatchStatus, Delivery, DeliveryStatus, EditionControl, Subscriber, SubscriberStatus
from ..runtime import Runtime
from .approval import ReviewError

CANCELLED = "cancelled"
#: How long redraft and cancel wait for batches being sent to settle.
SETTLE_WAIT = 30.0

_batches = Batch.__table__
_deliveries = Delivery.__table__


def _control(session: Session, edition_id: int) -> EditionControl:
    control = session.get(EditionControl, edition_id)
    if control is None:
        control = EditionControl(edition_id=edition_id)
        session.add(control)
    return control


def _batch_counts(session: Session, edition_id: int) -> dict[str, int]:
    return dict(session.execute(select(Batch.status, func.count()).where(Batch.edition_id == edition_id)
                                .group_by(Batch.status)).all())


def hold(session: Session, day: date, *, by: str, now: datetime) -> str:
    edition = get_or_create_edition(session, day)
    control = _control(session, edition.id)
    if control.cancelled_at is not None:
        raise ReviewError(f"edition {day} was cancelled")
    if control.held_at is None:
        control.held_at, control.held_by = now, by[:200]
    session.commit()
    counts = _batch_counts(session, edition.id)
    session.rollback()
    return (f"edition {day} held by {control.held_by}: no batch of it starts until 'digest resume --date {day}'"
            f" ({counts.get(BatchStatus.SENDING, 0)} being sent finish; {counts.get(BatchStatus.PENDING, 0)} stay queued)")


def resume(session: Session, day: date | None) -> list[date]:
    """Lift the hold of ``day``'s edition (None: of every held edition); the dates resumed."""
    from ..models import Edition

    query = select(EditionControl, Edition.date).join(Edition, Edition.id == EditionControl.edition_id).where(
        EditionControl.held_at.is_not(None), EditionControl.cancelled_at.is_(None))
    if day is not None:
        query = query.where(Edition.date == day)
    resumed = []
    for control, edition_date in session.execute(query).all():
        control.held_at = control.held_by = None
        resumed.append(edition_date)
    session.commit()
    return resumed


@dataclass
class Unplanned:
    batches: int = 0  # batches taken apart
    readers: int = 0  # their readers, unplanned (redraft) or skipped as cancelled (cancel)
    nothing_new: int = 0  # readers skipped for no-new-items, unplanned again (redraft)
    not_planned: int = 0  # readers with no row yet, recorded as cancelled (cancel)


def _wait_for_sending(runtime: Runtime, edition_id: int, day: date) -> None:
    give_up = time.monotonic() + SETTLE_WAIT
    while True:
        with runtime.sessions() as session:
            sending = _batch_counts(session, edition_id).get(BatchStatus.SENDING, 0)
        if not sending:
            return
        if time.monotonic() > give_up:
            raise ReviewError(f"edition {day}: {sending} batch(es) are still being sent; try again once they settle "
                              "('digest status')")
        time.sleep(0.2)


def _take_apart_pending(session: Session, edition_id: int) -> list[int]:
    """Delete the edition's pending batches that hold queued readers only; their ids."""
    other_rows = exists().where(_deliveries.c.batch_id == _batches.c.id,
                                _deliveries.c.status != DeliveryStatus.QUEUED)
    return list(session.execute(delete(_batches).where(
        _batches.c.edition_id == edition_id, _batches.c.status == BatchStatus.PENDING, ~other_rows,
    ).returning(_batches.c.id)).scalars())


def redraft(runtime: Runtime, day: date, *, by: str, now: datetime, provider=None):
    """A new snapshot of ``day``'s edition for the readers not yet sent to. Returns
    (what was unplanned, the draft's report)."""
    from .draft import draft_edition

    unplanned = Unplanned()
    with runtime.sessions() as session:
        edition = find_edition(session, day)
        if edition is None:
            raise ReviewError(f"edition {day} is not drafted yet: run 'digest draft --date {day}'")
        control = _control(session, edition.id)
        if control.cancelled_at is not None:
            raise ReviewError(f"edition {day} was cancelled")
        held_before = control.held_at is not None
        if not held_before:  # no batch starts while the edition is taken apart
            control.held_at, control.held_by = now, f"redraft by {by}"[:200]
        session.commit()
        edition_id = edition.id
    try:
        _wait_for_sending(runtime, edition_id, day)
        with runtime.sessions() as session:
            batch_ids = _take_apart_pending(session, edition_id)
            unplanned.batches = len(batch_ids)
            if batch_ids:
                unplanned.readers = session.execute(delete(_deliveries).where(
                    _deliveries.c.batch_id.in_(batch_ids), _deliveries.c.status == DeliveryStatus.QUEUED)).rowcount
            unplanned.nothing_new = session.execute(delete(_deliveries).where(
                _deliveries.c.edition_id == edition_id, _deliveries.c.status == DeliveryStatus.SKIPPED,
                _deliveries.c.skip_reason == "no-new-items")).rowcount
            session.commit()
        report = draft_edition(runtime, day, now=now, by=by, provider=provider, redraft=True)
    finally:
        if not held_before:
            with runtime.sessions() as session:
                control = session.get(EditionControl, edition_id)
                control.held_at = control.held_by = None
                session.commit()
    return unplanned, report


def cancel(runtime: Runtime, day: date, *, by: str, now: datetime) -> Unplanned:
    """End ``day``'s edition: every reader not sent to is skipped (``cancelled``)."""
    unplanned = Unplanned()
    with runtime.sessions() as session:
        edition = get_or_create_edition(session, day)
        control = _control(session, edition.id)
        if control.cancelled_at is not None:
            return unplanned
        if control.held_at is None:
            control.held_at, control.held_by = now, f"cancel by {by}"[:200]
        session.commit()
        edition_id = edition.id
    _wait_for_sending(runtime, edition_id, day)
    with runtime.sessions() as session:
        writing_deliveries(session)  # first: rows for readers not being erased (digest.deliver.ledger.erasure)
        batch_ids = _take_apart_pending(session, edition_id)
        unplanned.batches = len(batch_ids)
        if batch_ids:
            unplanned.readers = len(session.execute(update(_deliveries).where(
                _deliveries.c.batch_id.in_(batch_ids), _deliveries.c.status == DeliveryStatus.QUEUED,
            ).values(status=DeliveryStatus.SKIPPED, skip_reason=CANCELLED, batch_id=None)
                .returning(_deliveries.c.id)).all())
        subscribers = Subscriber.__table__
        no_row = ~exists().where(_deliveries.c.subscriber_id == subscribers.c.id, _deliveries.c.edition_id == edition_id)
        rows = select(subscribers.c.id, literal(edition_id), literal(DeliveryStatus.SKIPPED), literal(CANCELLED),
                      literal(now)).where(and_(subscribers.c.status == SubscriberStatus.ACTIVE, no_row))
        unplanned.not_planned = len(session.execute(  # (RETURNING: a rowcount is not reliable here on PostgreSQL)
            insert_for(session, _deliveries)
            .from_select(["subscriber_id", "edition_id", "status", "skip_reason", "created_at"], rows)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "edition_id"])
            .returning(_deliveries.c.id)).all())
        control = _control(session, edition_id)
        control.cancelled_at, control.cancelled_by = now, by[:200]
        session.commit()
    return unplanned
