"""What ``digest send`` would send from batches that already exist, without changing them.

A real run sends, besides what planning adds: the edition's ``pending`` batches (a run
that stopped), and with ``--resend-ambiguous`` / ``--retry-failed`` the batches it puts
back (their ambiguous or failed readers; a batch left ``sending`` by a dead process is
first marked ambiguous, so it is resent too). Readers who unsubscribed meanwhile are
skipped at send time. ``--dry-run`` counts exactly these here and asks the same planner
(:func:`~.planning.plan_edition` with ``dry_run``) for the rest, so its figures are the
real run's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..models import Batch, BatchStatus, Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from .ledger import claim_is_stale
from .settlement import has_evidence


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
    wanted = []  # (batch ids, delivery status that would be sent)
    rows = session.execute(select(Batch.id, Batch.status, Batch.claimed_by, Batch.claimed_at).where(
        Batch.edition_id == edition_id,
        Batch.status.in_((BatchStatus.PENDING, BatchStatus.SENDING, BatchStatus.AMBIGUOUS, BatchStatus.FAILED)))).all()
    for batch_id, status, claimed_by, claimed_at in rows:
        if status == BatchStatus.PENDING:
            wanted.append((batch_id, DeliveryStatus.QUEUED))
        elif status == BatchStatus.SENDING and resend_ambiguous and claim_is_stale(claimed_by, claimed_at, now, lease):
            wanted.append((batch_id, DeliveryStatus.QUEUED))  # recovered as ambiguous, then put back
        elif status == BatchStatus.AMBIGUOUS and resend_ambiguous:
            wanted.append((batch_id, DeliveryStatus.AMBIGUOUS))
        elif status == BatchStatus.FAILED and retry_failed:
            wanted.append((batch_id, DeliveryStatus.FAILED))
    if not wanted:
        return ExistingWork(0, 0, 0)
    # An ambiguous reader whose provider event is already stored is settled, not resent.
    owed = or_(*(and_(Delivery.batch_id == batch_id, Delivery.status == status,
                      ~has_evidence() if status == DeliveryStatus.AMBIGUOUS else True)
                 for batch_id, status in wanted))
    active = Subscriber.status == SubscriberStatus.ACTIVE
    counts = Counter()
    queued = 0
    for is_active, status, count in session.execute(
            select(active, Delivery.status, func.count()).select_from(Delivery)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id).where(owed).group_by(active, Delivery.status)):
        counts[bool(is_active)] += count
        queued += count if status == DeliveryStatus.QUEUED else 0
    return ExistingWork(len(wanted), counts[True], counts[False], queued)
