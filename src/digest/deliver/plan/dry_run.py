"""What ``digest send`` would send from batches that already exist, without changing them.

A real run sends, besides what planning adds: the edition's ``pending`` batches (a run
that stopped), and with ``--resend-ambiguous`` / ``--retry-failed`` the readers it puts
back (ambiguous or failed readers, in one pending batch per batch they come from; a batch
left ``sending`` by a dead process is first marked ambiguous, so it is resent too). Readers who unsubscribed meanwhile are
skipped at send time. ``--dry-run`` counts exactly these here and asks the same planner
(:func:`~digest.deliver.plan.plan_edition` with ``dry_run``) for the rest, so its figures are the
real run's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ...models import Batch, BatchStatus, Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from ..ledger import claim_is_stale
from ..ledger.settlement import has_evidence


@dataclass(frozen=True)
class ExistingWork:
    batches: int  # batches the run would send
    recipients: int  # readers it would send to
    suppressed: int  # readers in them no longer subscribed: skipped at send time
    queued_rows: int = 0  # of the rows counted above, those now queued (pending batches, a dead process's)


def existing_work(session: Session, edition_id: int | None, *, resend_ambiguous: bool, retry_failed: bool,
                  now: datetime, lease: timedelta) -> ExistingWork:
    if edition_id is None:
        return ExistingWork(0, 0, 0)
    owed = []  # conditions on delivery rows the real run would send, and the batches they go in
    batches: set[tuple[str, int]] = set()
    for batch_id, status, claimed_by, claimed_at in session.execute(
            select(Batch.id, Batch.status, Batch.claimed_by, Batch.claimed_at).where(
                Batch.edition_id == edition_id, Batch.status.in_((BatchStatus.PENDING, BatchStatus.SENDING)))):
        if status == BatchStatus.PENDING or (
                resend_ambiguous and claim_is_stale(claimed_by, claimed_at, now, lease)):  # recovered, then put back
            owed.append(and_(Delivery.batch_id == batch_id, Delivery.status == DeliveryStatus.QUEUED))
            batches.add(("batch", batch_id))
    # Readers put back as :func:`~digest.deliver.ledger.reset_batches` does: whatever their batch's status
    # (one pending batch per batch they come from), but not in a batch being sent, nor an
    # address refused for itself that has not changed since, nor (ambiguous) one whose
    # provider event is already stored (settled first).
    current_email = select(Subscriber.email).where(Subscriber.id == Delivery.subscriber_id).scalar_subquery()
    not_sending = Delivery.batch_id.in_(select(Batch.id).where(Batch.edition_id == edition_id,
                                                               Batch.status != BatchStatus.SENDING))
    if resend_ambiguous:
        owed.append(and_(Delivery.status == DeliveryStatus.AMBIGUOUS, not_sending, ~has_evidence()))
    if retry_failed:
        owed.append(and_(Delivery.status == DeliveryStatus.FAILED, not_sending,
                         or_(~Delivery.refused, Delivery.email != current_email)))
    if not owed:
        return ExistingWork(0, 0, 0)
    active = Subscriber.status == SubscriberStatus.ACTIVE
    counts: Counter = Counter()
    queued = 0
    for is_active, status, batch_id, count in session.execute(
            select(active, Delivery.status, Delivery.batch_id, func.count()).select_from(Delivery)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.edition_id == edition_id, or_(*owed))
            .group_by(active, Delivery.status, Delivery.batch_id)):
        counts[bool(is_active)] += count
        if status == DeliveryStatus.QUEUED:
            queued += count
        else:
            batches.add(("from", batch_id))
    return ExistingWork(len(batches), counts[True], counts[False], queued)
