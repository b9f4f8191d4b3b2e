"""Sending one batch: claim it, hand it to the provider, record what happened.

The provider call sits between two committed ledger writes (claim, settle). Whatever
goes wrong *after* the request may have left is recorded as ``ambiguous``, never
retried here; whatever goes wrong before it is ``failed``. One batch's failure never
stops the others.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import exists, select, update

from ..content import RenderedEmail
from ..links import LinkMaker
from ..message import recipient_headers, shared_headers
from ..models import Batch, BatchStatus, Delivery, DeliveryStatus, Edition, RenderedBody, Subscriber, SubscriberStatus
from ..runtime import Runtime
from .ledger import Settlement, claim_batch, pending_batch_ids, settle_batch
from .planning import SkipReason
from .provider import OutgoingBatch, Provider, ProviderError, Recipient, SendResult

log = logging.getLogger(__name__)

NOT_CLAIMED = "not-claimed"  # another worker owns (or already finished) the batch


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: int
    status: str  # BatchStatus.SENT / FAILED / AMBIGUOUS, or NOT_CLAIMED
    sent: int = 0  # recipients accepted
    failed: int = 0  # recipients refused, or all of a failed batch
    ambiguous: int = 0
    suppressed: int = 0  # unsubscribed between planning and sending: not sent
    error: str | None = None


def make_link_maker(runtime: Runtime) -> LinkMaker:
    settings = runtime.settings
    return LinkMaker(settings.base_url, settings.require_secret_key())


def send_batch(runtime: Runtime, provider: Provider, batch_id: int, *, worker_id: str, links: LinkMaker) -> BatchOutcome:
    """Claim, send and settle one batch. Returns ``NOT_CLAIMED`` when another worker won.

    One session, two transactions: (claim, suppression check, the batch's reads) committed
    before the provider call, then the settlement. Should preparing fail, that transaction
    is rolled back and the batch claimed again on its own to record the failure, as if the
    claim had been committed first.
    """
    with runtime.sessions() as session:
        try:
            if not claim_batch(session, batch_id, worker_id, commit=False):
                session.rollback()
                return BatchOutcome(batch_id, NOT_CLAIMED)
            suppressed = _drop_suppressed(session, batch_id, commit=False)
            outgoing = build_outgoing(session, batch_id, links, runtime.settings.config)
            session.commit()  # the claim and the suppression check, before anything is sent
        except Exception as exc:  # nothing was sent: a plain failure
            log.exception("batch %s could not be prepared", batch_id)
            session.rollback()
            if not claim_batch(session, batch_id, worker_id):
                return BatchOutcome(batch_id, NOT_CLAIMED)
            return _settle(session, batch_id, worker_id, Settlement(BatchStatus.FAILED, error=f"not sent: {exc}"), None)

        if not outgoing.recipients:
            return _settle(session, batch_id, worker_id, Settlement(BatchStatus.SENT), outgoing, suppressed)
        try:
            result = provider.send(outgoing)
        except ProviderError as exc:
            status = BatchStatus.AMBIGUOUS if exc.ambiguous else BatchStatus.FAILED
            log.error("batch %s %s: %s", batch_id, status, exc)
            return _settle(session, batch_id, worker_id, Settlement(status, error=str(exc)), outgoing, suppressed)
        except BaseException as exc:  # the request may have gone out: never resend silently
            log.exception("batch %s: unexpected error while sending; marked ambiguous", batch_id)
            outcome = _settle(session, batch_id, worker_id,
                              Settlement(BatchStatus.AMBIGUOUS, error=f"{type(exc).__name__}: {exc}"), outgoing, suppressed)
            if not isinstance(exc, Exception):
                raise
            return outcome
        return _settle(session, batch_id, worker_id, _sent(result, outgoing), outgoing, suppressed)


def _sent(result: SendResult, outgoing: OutgoingBatch) -> Settlement:
    by_email = {r.email.casefold(): r.delivery_id for r in outgoing.recipients}
    rejected = {by_email[e.casefold()]: reason for e, reason in result.rejected.items() if e.casefold() in by_email}
    ambiguous = {by_email[e.casefold()]: reason for e, reason in result.ambiguous.items() if e.casefold() in by_email}
    message_ids = {by_email[e.casefold()]: mid for e, mid in result.per_recipient_ids.items() if e.casefold() in by_email}
    if rejected and len(rejected) == len(outgoing.recipients):
        return Settlement(BatchStatus.FAILED, message_id=result.message_id,
                          error="every recipient was refused", rejected=rejected)
    return Settlement(BatchStatus.SENT, message_id=result.message_id, rejected=rejected, ambiguous=ambiguous,
                      message_ids=message_ids)


def _settle(session, batch_id, worker_id, settlement: Settlement, outgoing, suppressed: int = 0) -> BatchOutcome:
    recorded = settle_batch(session, batch_id, worker_id, settlement)
    if not recorded:
        return BatchOutcome(batch_id, NOT_CLAIMED, error="overtaken by a recovery before settling")
    count = len(outgoing.recipients) if outgoing is not None else 0
    status = settlement.status
    if status == BatchStatus.SENT:
        refused, unsure = len(settlement.rejected), len(settlement.ambiguous)
        return BatchOutcome(batch_id, status, sent=count - refused - unsure, failed=refused, ambiguous=unsure,
                            suppressed=suppressed)
    if status == BatchStatus.FAILED:
        return BatchOutcome(batch_id, status, failed=count, suppressed=suppressed, error=settlement.error)
    return BatchOutcome(batch_id, status, ambiguous=count, suppressed=suppressed, error=settlement.error)


def _drop_suppressed(session, batch_id: int, *, commit: bool = True) -> int:
    """Recipients who unsubscribed (or bounced) since planning are skipped, not sent."""
    inactive = exists().where(Subscriber.id == Delivery.subscriber_id, Subscriber.status != SubscriberStatus.ACTIVE)
    result = session.execute(
        update(Delivery)
        .where(Delivery.batch_id == batch_id, Delivery.status == DeliveryStatus.QUEUED, inactive)
        .values(status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.SUPPRESSED)
        .execution_options(synchronize_session=False)
    )
    if commit:
        session.commit()
    return result.rowcount


def build_outgoing(session, batch_id: int, links: LinkMaker, config) -> OutgoingBatch:
    """The provider's view of a batch: its body, dates filled in the batch's zone (once per
    batch, never per recipient), and each queued recipient's tokens and headers."""
    batch_id_, zone, body_id, fingerprint, edition_id, edition_date = session.execute(
        select(Batch.id, Batch.timezone, Batch.body_id, RenderedBody.fingerprint, Edition.id, Edition.date)
        .join(RenderedBody, RenderedBody.id == Batch.body_id)
        .join(Edition, Edition.id == Batch.edition_id)
        .where(Batch.id == batch_id)
    ).one()
    dated = _dated_bodies.get(session, body_id, fingerprint, zone)
    return OutgoingBatch(
        batch_id=batch_id_,
        edition_id=edition_id,
        edition_date=edition_date,
        body=dated,
        recipients=batch_recipients(session, batch_id, body_id, links, DeliveryStatus.QUEUED),
        headers=shared_headers(config),
    )


def batch_recipients(session, batch_id: int, body_id: int, links: LinkMaker, status: str) -> list[Recipient]:
    """A batch's deliveries in ``status``, each with its token values and one-click headers."""
    rows = session.execute(
        select(Delivery.id, Subscriber.id, Subscriber.email)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.batch_id == batch_id, Delivery.status == status)
        .order_by(Delivery.id)
    ).all()
    recipients = []
    for delivery_id, subscriber_id, email in rows:
        tokens = links.token_values(subscriber_id, email, body_id)
        recipients.append(Recipient(delivery_id, subscriber_id, email, tokens, recipient_headers(tokens["unsubscribe_url"])))
    return recipients


class DatedBodies:
    """The last few bodies with their dates filled, per (body, zone), in this process.

    Keyed on the body's fingerprint (sha256 of its content) as well as its id, so an entry
    can only ever be served for the same content, whatever database the id came from.
    Shared by the sending threads; a miss reads the body once and fills its dates.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, str, str], RenderedEmail] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session, body_id: int, fingerprint: str, zone: str) -> RenderedEmail:
        key = (body_id, fingerprint, zone)
        with self._lock:
            dated = self._entries.get(key)
            if dated is not None:
                self._entries.move_to_end(key)
                return dated
        body = session.get(RenderedBody, body_id)
        dated = rendered_email(body).dated(zone)
        session.expunge(body)
        with self._lock:
            self._entries[key] = dated
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return dated


_dated_bodies = DatedBodies()


def rendered_email(body: RenderedBody) -> RenderedEmail:
    from ..content import tokens_in

    used = tokens_in(body.subject) | tokens_in(body.html) | tokens_in(body.text)
    return RenderedEmail(body.subject, body.preheader, body.html, body.text, frozenset(used))


def send_pending_batches(
    runtime: Runtime,
    provider: Provider,
    edition_id: int,
    *,
    worker_id: str,
    links: LinkMaker | None = None,
    on_batch: Callable[[BatchOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[BatchOutcome]:
    """Send every pending batch of an edition, one after another. ``should_stop`` is
    checked between batches (a worker's SIGTERM flag)."""
    links = links or make_link_maker(runtime)
    with runtime.sessions() as session:
        batch_ids = pending_batch_ids(session, edition_id)
    outcomes = []
    for batch_id in batch_ids:
        if should_stop is not None and should_stop():
            log.info("stopping before batch %s: shutdown requested", batch_id)
            break
        outcome = send_batch(runtime, provider, batch_id, worker_id=worker_id, links=links)
        outcomes.append(outcome)
        if on_batch is not None:
            on_batch(outcome)
    return outcomes
