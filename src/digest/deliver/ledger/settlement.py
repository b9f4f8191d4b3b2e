"""Settling ambiguous deliveries with the provider's own evidence, then by waiting.

A delivery is ``ambiguous`` when its request may or may not have reached the provider
(the answer was lost, or the sending process died mid-request). SendGrid tells us within
seconds whether it took a message: its Event Webhook posts ``processed``, ``delivered``
(and later ``open``, ``click``, ...) for a message it accepted, ``dropped`` or ``bounce``
for one it did not deliver, each carrying the ``custom_args`` we put in the request
(batch and delivery ids). So:

* an event tied to an ambiguous delivery settles it: accepted -> ``sent``, dropped or
  bounced -> ``failed``, with the event named in ``settled_by`` as the evidence;
* a batch whose readers are all settled leaves ``ambiguous`` (``sent`` if any reader
  was, else ``failed``), so their last digest is recorded as for any sent batch;
* after ``[delivery] ambiguous_wait_minutes`` with no event, readers still unaccounted
  for are resent once (``ambiguous = "resend-after-wait"``), by putting their batch back
  to ``pending`` with only them queued, or left for an operator (``"ask"``). SMTP and the
  outbox have no events: their ambiguous readers always wait for an operator.

Events may arrive before the batch is marked ambiguous (while it is still ``sending``),
so they are stored tied to their delivery and :func:`follow_up_ambiguous` settles from
the stored ones as well. Every change is a conditional UPDATE: the webhook and any number
of workers may run this at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from ...models import Batch, BatchStatus, Delivery, DeliveryStatus, ProviderEvent
from ...report.counting import count_sent, custom_arg_id
from ...settings import DeliveryConfig

log = logging.getLogger(__name__)

#: Events that say SendGrid took the message (it was sent), and those that say it was not delivered.
ACCEPTED_EVENTS = frozenset({"processed", "delivered", "deferred", "open", "click"})
REJECTED_EVENTS = frozenset({"dropped", "bounce"})
RESEND_AFTER_WAIT = "resend-after-wait"
#: Providers whose events can settle an ambiguous delivery.
PROVIDERS_WITH_EVENTS = frozenset({"sendgrid"})

_batches = Batch.__table__
_deliveries = Delivery.__table__
_events = ProviderEvent.__table__


def tie_event(session: Session, event: dict[str, Any]) -> int | None:
    """The delivery an event concerns: by the delivery id in its custom args (checked
    against its batch id and address), else by SendGrid's message id and the address."""
    email = event.get("email") if isinstance(event.get("email"), str) else None
    delivery_id, batch_id = custom_arg_id(event, "delivery_id"), custom_arg_id(event, "batch_id")
    if delivery_id is not None:
        row = session.execute(select(_deliveries.c.batch_id, _deliveries.c.email)
                              .where(_deliveries.c.id == delivery_id)).first()
        if row is not None and (batch_id is None or row.batch_id == batch_id) and (
                email is None or (row.email or "").casefold() == email.strip().casefold()):
            return delivery_id
    message_id = event.get("sg_message_id")
    if not isinstance(message_id, str) or not message_id or email is None:
        return None
    prefix = message_id.split(".", 1)[0]  # SendGrid appends ".filter..." to the X-Message-Id
    return session.scalar(
        select(_deliveries.c.id).join(_batches, _batches.c.id == _deliveries.c.batch_id)
        .where(func.lower(_deliveries.c.email) == email.strip().lower(),
               or_(_deliveries.c.provider_message_id == prefix, _batches.c.provider_message_id == prefix))
        .order_by(_deliveries.c.id.desc()).limit(1))


def tie_events(session: Session, events: list[dict[str, Any]]) -> list[tuple[int | None, bool]]:
    """:func:`tie_event` for a whole post, and whether each tied delivery is ambiguous now:
    the deliveries named in the events' custom args read with one query per thousand (an
    event without them, or whose row does not match, is tied alone as before)."""
    named = [(custom_arg_id(e, "delivery_id"), custom_arg_id(e, "batch_id")) for e in events]
    wanted = sorted({delivery_id for delivery_id, _ in named if delivery_id is not None})
    rows = {}
    for start in range(0, len(wanted), 1000):
        for row in session.execute(select(_deliveries.c.id, _deliveries.c.batch_id, _deliveries.c.email,
                                          _deliveries.c.status)
                                   .where(_deliveries.c.id.in_(wanted[start:start + 1000]))):
            rows[row.id] = row
    ties: list[tuple[int | None, bool]] = []
    for event, (delivery_id, batch_id) in zip(events, named):
        email = event.get("email") if isinstance(event.get("email"), str) else None
        row = rows.get(delivery_id) if delivery_id is not None else None
        if row is not None and (batch_id is None or row.batch_id == batch_id) and (
                email is None or (row.email or "").casefold() == email.strip().casefold()):
            ties.append((delivery_id, row.status == DeliveryStatus.AMBIGUOUS))
            continue
        tied = tie_event(session, event)  # by SendGrid's message id and the address
        ambiguous = tied is not None and session.scalar(
            select(_deliveries.c.status).where(_deliveries.c.id == tied)) == DeliveryStatus.AMBIGUOUS
        ties.append((tied, ambiguous))
    return ties


def event_time(event: dict[str, Any]) -> datetime | None:
    stamp = event.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and 0 < stamp < 1e11:
        return datetime.fromtimestamp(stamp, timezone.utc)
    return None


def settle_delivery(session: Session, delivery_id: int, kind: str, event_id: str, *,
                    at: datetime | None = None) -> bool:
    """Settle one ``ambiguous`` delivery by an event (``kind`` accepted or rejected);
    False when the event says nothing about delivery or the row is not ambiguous. Its
    batch leaves ``ambiguous`` once no reader of it is left unsettled."""
    if kind in ACCEPTED_EVENTS:
        values = {"status": DeliveryStatus.SENT, "sent_at": at or datetime.now(timezone.utc), "error": None}
    elif kind in REJECTED_EVENTS:
        values = {"status": DeliveryStatus.FAILED, "error": f"SendGrid {kind} event"}
    else:
        return False
    changed = session.execute(
        update(_deliveries).where(_deliveries.c.id == delivery_id, _deliveries.c.status == DeliveryStatus.AMBIGUOUS)
        .values(settled_by=f"sendgrid:{kind}:{event_id}"[:300], **values)
    ).rowcount
    if not changed:
        return False
    batch_id, edition_id = session.execute(
        select(_deliveries.c.batch_id, _deliveries.c.edition_id).where(_deliveries.c.id == delivery_id)).one()
    if values["status"] == DeliveryStatus.SENT:
        count_sent(session, edition_id, 1, values["sent_at"].astimezone(timezone.utc).date())
    if batch_id is not None:
        close_settled_batch(session, batch_id)
    return True


def close_settled_batch(session: Session, batch_id: int) -> None:
    """An ambiguous batch (or a settled one with readers in doubt) none of whose readers
    is unsettled any more: ``sent`` when any reader was sent, else ``failed``; its readers'
    last digest is then recorded by the next :func:`~digest.deliver.ledger.record_last_digests`."""
    open_rows = exists().where(_deliveries.c.batch_id == batch_id,
                               _deliveries.c.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.AMBIGUOUS)))
    any_sent = exists().where(_deliveries.c.batch_id == batch_id, _deliveries.c.status == DeliveryStatus.SENT)
    session.execute(
        update(_batches)
        .where(_batches.c.id == batch_id, or_(_batches.c.status == BatchStatus.AMBIGUOUS, _batches.c.readers_in_doubt),
               ~open_rows)
        .values(status=case((_batches.c.status != BatchStatus.AMBIGUOUS, _batches.c.status),
                            (any_sent, BatchStatus.SENT), else_=BatchStatus.FAILED),
                readers_in_doubt=False, readers_recorded=False,
                sent_at=func.coalesce(_batches.c.sent_at, datetime.now(timezone.utc)))
    )


#: Events that settle a delivery one way or the other.
EVIDENCE = ACCEPTED_EVENTS | REJECTED_EVENTS


def has_evidence():
    """A condition on a delivery row: an event already stored settles it."""
    return exists().where(_events.c.delivery_id == _deliveries.c.id, _events.c.event.in_(EVIDENCE))


def settle_from_stored_events(session: Session, edition_id: int | None = None) -> int:
    """Settle ambiguous deliveries (of ``edition_id``, or any) whose event is already
    stored: it may have come while the batch was still ``sending``. Committed; returns
    how many were settled."""
    doubtful = select(_batches.c.id).where(or_(_batches.c.status == BatchStatus.AMBIGUOUS, _batches.c.readers_in_doubt))
    if edition_id is not None:
        doubtful = doubtful.where(_batches.c.edition_id == edition_id)
    evidence = session.execute(
        select(_events.c.delivery_id, _events.c.event, _events.c.event_id, _events.c.received_at)
        .join(_deliveries, _deliveries.c.id == _events.c.delivery_id)
        .where(_deliveries.c.batch_id.in_(doubtful), _deliveries.c.status == DeliveryStatus.AMBIGUOUS,
               _events.c.event.in_(EVIDENCE))
        .order_by(_events.c.id)
    ).all()
    settled = sum(settle_delivery(session, delivery_id, kind, event_id, at=received_at)
                  for delivery_id, kind, event_id, received_at in evidence)
    session.commit()
    return settled


@dataclass
class FollowUp:
    """What one :func:`follow_up_ambiguous` pass did."""

    settled: int = 0  # deliveries settled from stored events
    resent: list[int] = field(default_factory=list)  # batches put back to pending for their unaccounted readers


def follow_up_ambiguous(session: Session, config: DeliveryConfig, provider: str, *,
                        now: datetime | None = None) -> FollowUp:
    """Settle ambiguous deliveries from events already stored; then, with events to wait
    for and ``resend-after-wait``, put each ambiguous batch whose first request is older
    than the wait back to ``pending`` with only its unaccounted readers queued (once: a
    batch sent more than once is left for an operator)."""
    now = now or datetime.now(timezone.utc)
    report = FollowUp(settled=settle_from_stored_events(session))
    if config.ambiguous != RESEND_AFTER_WAIT or provider not in PROVIDERS_WITH_EVENTS:
        return report
    cutoff = now - timedelta(minutes=config.ambiguous_wait_minutes)
    due = list(session.scalars(select(_batches.c.id).where(
        _batches.c.status == BatchStatus.AMBIGUOUS, _batches.c.attempts == 1, _batches.c.claimed_at <= cutoff)))
    for batch_id in due:
        if resend_unaccounted(session, batch_id, reason=f"no provider event within "
                              f"{config.ambiguous_wait_minutes} min: resent once"):
            report.resent.append(batch_id)
        session.commit()
    if report.resent:
        log.warning("ambiguous batches %s: no event within %d min; resending their unaccounted readers once",
                    report.resent, config.ambiguous_wait_minutes)
    return report


def resend_unaccounted(session: Session, batch_id: int, *, reason: str) -> bool:
    """An ambiguous batch back to ``pending`` with only its still-ambiguous readers
    queued (those settled by events keep their status). Conditional: False when it is
    no longer ambiguous."""
    changed = session.execute(
        update(_batches).where(_batches.c.id == batch_id, _batches.c.status == BatchStatus.AMBIGUOUS)
        .values(status=BatchStatus.PENDING, claimed_by=None, claimed_at=None, error=reason)
    ).rowcount
    if changed:
        session.execute(update(_deliveries)
                        .where(and_(_deliveries.c.batch_id == batch_id, _deliveries.c.status == DeliveryStatus.AMBIGUOUS))
                        .values(status=DeliveryStatus.QUEUED, error=None))
    return bool(changed)
