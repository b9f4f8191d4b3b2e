"""Putting batches right after the fact: a dead claimant's batch becomes ``ambiguous``;
an operator's resend puts failed or ambiguous readers back in the queue."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from ...models import Batch, BatchStatus, Delivery, DeliveryStatus, Edition, Subscriber
from .claimant import DEFAULT_LEASE, claim_is_stale

log = logging.getLogger(__name__)

_batches = Batch.__table__
_deliveries = Delivery.__table__
_subscribers = Subscriber.__table__
_editions = Edition.__table__


def _now() -> datetime:
    return datetime.now(timezone.utc)


def recover_stale_batches(session: Session, now: datetime | None = None, lease: timedelta = DEFAULT_LEASE) -> list[int]:
    """Batches left in ``sending`` by a process that is gone become ``ambiguous``.

    Never resent here: the request may have reached the provider before the crash.
    Returns the ids of the batches recovered.
    """
    now = now or _now()
    rows = session.execute(
        select(Batch.id, Batch.claimed_by, Batch.claimed_at).where(Batch.status == BatchStatus.SENDING)
    ).all()
    recovered = []
    for batch_id, claimed_by, claimed_at in rows:
        if not claim_is_stale(claimed_by, claimed_at, now, lease):
            continue
        reason = f"claimed by {claimed_by} at {claimed_at:%Y-%m-%d %H:%M:%S}Z, which stopped before recording the outcome" \
            if claimed_at else f"claimed by {claimed_by}, which stopped before recording the outcome"
        changed = session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.status == BatchStatus.SENDING, Batch.claimed_by == claimed_by)
            .values(status=BatchStatus.AMBIGUOUS, error=reason)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            session.execute(
                update(Delivery)
                .where(Delivery.batch_id == batch_id, Delivery.status == DeliveryStatus.QUEUED)
                .values(status=DeliveryStatus.AMBIGUOUS, error=reason)
                .execution_options(synchronize_session=False)
            )
            recovered.append(batch_id)
            log.warning("batch %s marked ambiguous: %s", batch_id, reason)
        session.commit()
    return recovered


#: The subscriber's address now (it may have changed since the row was planned).
_current_email = select(_subscribers.c.email).where(_subscribers.c.id == _deliveries.c.subscriber_id)


def _resettable(edition_id: int, status: str) -> tuple:
    """The conditions on (deliveries joined to their batches) that pick the readers
    :func:`reset_batches` puts back: in ``status``, not in a batch being sent, and not
    refused for an address that has not changed since."""
    return (_deliveries.c.edition_id == edition_id, _deliveries.c.status == status,
            _batches.c.status != BatchStatus.SENDING,
            or_(~_deliveries.c.refused, _deliveries.c.email != _current_email.scalar_subquery()))


def resettable_readers(session: Session, edition_id: int, status: str) -> int:
    """How many readers :func:`reset_batches` would put back now (for a dry run)."""
    return session.scalar(select(func.count()).select_from(_deliveries)
                          .join(_batches, _batches.c.id == _deliveries.c.batch_id)
                          .where(*_resettable(edition_id, status))) or 0


def reset_batches(session: Session, edition_id: int, status: str) -> list[int]:
    """Put every ``failed`` (or ``ambiguous``) reader of an edition back in the queue, so
    the next send includes them, whatever the status of their batch; returns the ids of
    the pending batches that now hold them. The operator's explicit choice: an ambiguous
    reader may get a second copy.

    * A batch that failed (or is ambiguous) as a whole goes back to ``pending`` with them.
    * Readers inside a batch that went out (refused, not taken, or cut off while their
      message was in flight) move to a new pending batch of the same body, one per batch
      they came from, so the batch that went out keeps its record.
    * A reader the provider refused for their own address (``refused``) stays failed: the
      same request would be refused for the same reason. Once their address has changed
      they are queued like the others, to the new address.
    * Readers of a batch being sent right now are left alone.
    """
    if status not in (BatchStatus.AMBIGUOUS, BatchStatus.FAILED):
        raise ValueError(f"only ambiguous or failed readers can be reset, not {status!r}")
    # Planning numbers batches under this lock too, so new numbers never collide.
    session.execute(update(_editions).where(_editions.c.id == edition_id).values(slot=_editions.c.slot))
    owed = session.execute(
        select(_deliveries.c.id, _deliveries.c.batch_id, _batches.c.status, _batches.c.body_id)
        .join(_batches, _batches.c.id == _deliveries.c.batch_id)
        .where(*_resettable(edition_id, status))
        .order_by(_deliveries.c.id)
    ).all()
    by_batch: dict[int, list[int]] = {}
    kind: dict[int, tuple[str, int]] = {}
    for delivery_id, batch_id, batch_status, body_id in owed:
        by_batch.setdefault(batch_id, []).append(delivery_id)
        kind[batch_id] = (batch_status, body_id)
    next_number = (session.scalar(select(func.max(_batches.c.number)).where(_batches.c.edition_id == edition_id))
                   or 0) + 1
    now = _now()
    pending: list[int] = []
    for batch_id, delivery_ids in by_batch.items():
        batch_status, body_id = kind[batch_id]
        target = batch_id
        if batch_status == status:
            session.execute(update(_batches).where(_batches.c.id == batch_id, _batches.c.status == status)
                            .values(status=BatchStatus.PENDING, claimed_by=None, claimed_at=None, error=None))
        elif batch_status != BatchStatus.PENDING:  # it went out: its owed readers get a batch of their own
            target = session.execute(insert(_batches).values(
                edition_id=edition_id, number=next_number, body_id=body_id, status=BatchStatus.PENDING,
                attempts=0, readers_recorded=False, created_at=now).returning(_batches.c.id)).scalar_one()
            next_number += 1
        session.execute(
            update(_deliveries)
            .where(_deliveries.c.id.in_(delivery_ids), _deliveries.c.status == status)
            .values(status=DeliveryStatus.QUEUED, batch_id=target, error=None, refused=False,
                    email=_current_email.scalar_subquery())
        )
        pending.append(target)
    session.commit()
    return sorted(set(pending))
