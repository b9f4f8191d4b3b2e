"""Sending one batch: claim it, hand it to the provider, record what happened.

The provider call sits between two committed ledger writes (claim, settle). Whatever
goes wrong *after* the request may have left is recorded as ``ambiguous``, never
retried here; whatever goes wrong before it is ``failed``. One batch's failure never
stops the others, except a provider that halts (a refused API key, an outbox folder that
cannot be written): that batch goes back to the queue and no other is started.

Each ledger step runs on a :class:`~digest.deliver.ledger.connection.LedgerConnection`, so a database
connection lost while the provider was busy (or during the step) costs a reconnection,
not the edition.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import BigInteger, any_, bindparam, cast, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from ..content import RenderedEmail
from ..db import fetch_tuples
from ..links import LinkMaker
from ..message import recipient_headers, shared_headers
from ..models import BatchStatus, Delivery, DeliveryStatus, RenderedBody, Subscriber, SubscriberStatus
from ..report.guards import held_reason
from ..runtime import Runtime
from .dates import DatedBody, dated_for_zones
from .ledger import ClaimedBatch, Settlement, claim_batch, pending_batch_ids, release_batch, settle_batch
from .planning import SkipReason
from .providers.base import OutgoingBatch, Provider, ProviderError, Recipient, SendResult
from .ledger.connection import LedgerConnection

log = logging.getLogger(__name__)

NOT_CLAIMED = "not-claimed"  # another worker owns (or already finished) the batch
#: The provider halted the edition (refused key, unwritable outbox): the batch was put
#: back, nothing of it sent, and no further batch should be started.
HALTED = "halted"


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: int
    status: str  # BatchStatus.SENT / FAILED / AMBIGUOUS, or NOT_CLAIMED
    sent: int = 0  # recipients accepted
    failed: int = 0  # recipients refused or not taken, or all of a failed batch
    ambiguous: int = 0
    suppressed: int = 0  # unsubscribed between planning and sending: not sent
    error: str | None = None
    halt: str | None = None  # the provider cannot go on (also after a batch it partly sent)


def make_link_maker(runtime: Runtime) -> LinkMaker:
    settings = runtime.settings
    return LinkMaker(settings.base_url, settings.require_secret_key())


def send_batch(runtime: Runtime, provider: Provider, batch_id: int, *, worker_id: str, links: LinkMaker) -> BatchOutcome:
    """Claim, send and settle one batch. Returns ``NOT_CLAIMED`` when another worker won.

    One connection, two transactions: (claim, suppression check, the batch's reads)
    committed before the provider call, then the settlement; each run again on a new
    connection if the database connection is lost. Should preparing fail otherwise, that
    transaction is rolled back and the batch claimed again on its own to record the
    failure, as if the claim had been committed first.
    """
    claimed_at = _now()  # this claim's stamp: a claim run again recognises itself by it
    with LedgerConnection(runtime.engine, what=f"batch {batch_id}") as ledger:
        try:
            prepared = ledger.run(lambda conn: _prepare(conn, batch_id, worker_id, claimed_at, links, runtime))
        except Exception as exc:  # nothing was sent: a plain failure
            log.exception("batch %s could not be prepared", batch_id)
            if not ledger.run(lambda conn: claim_batch(conn, batch_id, worker_id, now=claimed_at)):
                return BatchOutcome(batch_id, NOT_CLAIMED)
            return _settle(ledger, batch_id, worker_id, Settlement(BatchStatus.FAILED, error=f"not sent: {exc}"), None)
        if prepared is None:
            return BatchOutcome(batch_id, NOT_CLAIMED)
        outgoing, suppressed = prepared

        if not outgoing.recipients:
            return _settle(ledger, batch_id, worker_id, Settlement(BatchStatus.SENT), outgoing, suppressed)
        held = ledger.run(lambda conn: held_reason(conn, outgoing.edition_id, _now(), runtime.settings.config.guards))
        if held:  # a guard protecting the sender's reputation: back in the queue until released
            log.warning("batch %s put back in the queue: sending is held: %s", batch_id, held)
            ledger.run(lambda conn: release_batch(conn, batch_id, worker_id, f"held: {held}"))
            return BatchOutcome(batch_id, HALTED, suppressed=suppressed, error=held,
                                halt=f"a guard holds sending: {held}; 'digest resume --force' releases it")
        try:
            result = provider.send(outgoing)
        except ProviderError as exc:
            if exc.halt:  # nothing of it went out: back in the queue, and the edition stops here
                log.info("batch %s put back in the queue: %s", batch_id, exc)
                ledger.run(lambda conn: release_batch(conn, batch_id, worker_id, str(exc)))
                return BatchOutcome(batch_id, HALTED, suppressed=suppressed, error=str(exc), halt=str(exc))
            status = BatchStatus.AMBIGUOUS if exc.ambiguous else BatchStatus.FAILED
            log.error("batch %s %s: %s", batch_id, status, exc)
            return _settle(ledger, batch_id, worker_id, Settlement(status, error=str(exc)), outgoing, suppressed)
        except BaseException as exc:  # the request may have gone out: never resend silently
            log.exception("batch %s: unexpected error while sending; marked ambiguous", batch_id)
            outcome = _settle(ledger, batch_id, worker_id,
                              Settlement(BatchStatus.AMBIGUOUS, error=f"{type(exc).__name__}: {exc}"), outgoing, suppressed)
            if not isinstance(exc, Exception):
                raise
            return outcome
        outcome = _settle(ledger, batch_id, worker_id, _sent(result, outgoing), outgoing, suppressed)
        if result.halt:
            log.info("batch %s: the provider cannot go on: %s", batch_id, result.halt)
            outcome = replace(outcome, halt=result.halt)
        return outcome


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _prepare(conn, batch_id: int, worker_id: str, claimed_at: datetime, links: LinkMaker, runtime: Runtime):
    """Claim the batch and read what sending it needs, committed together; ``None`` when
    another worker holds it. One ledger step (run again, whole, on a lost connection)."""
    try:
        claimed = claim_batch(conn, batch_id, worker_id, now=claimed_at, commit=False)
        if claimed is None:
            conn.rollback()
            return None
        rows, suppressed = _queued_recipients(conn, batch_id)
        outgoing = build_outgoing(conn, claimed, rows, links, runtime.settings.config)
        conn.commit()  # the claim and the suppression check, before anything is sent
    except Exception:
        if conn.in_transaction() and not conn.invalidated:
            conn.rollback()
        raise
    return outgoing, suppressed


def _sent(result: SendResult, outgoing: OutgoingBatch) -> Settlement:
    """Each reader's outcome on their own row; the batch is ``sent`` when anyone got it,
    else ``ambiguous`` when anyone may have, else ``failed``. A batch that went out with
    readers it did not reach says so in its error."""
    by_email = {r.email.casefold(): r.delivery_id for r in outgoing.recipients}

    def rows(outcomes: dict[str, str]) -> dict[int, str]:
        return {by_email[e.casefold()]: reason for e, reason in outcomes.items() if e.casefold() in by_email}

    rejected, unsent, ambiguous = rows(result.rejected), rows(result.unsent), rows(result.ambiguous)
    message_ids = rows(result.per_recipient_ids)
    failed = len(rejected) + len(unsent)
    reached = len(outgoing.recipients) - failed - len(ambiguous)
    if reached > 0:
        status, error = BatchStatus.SENT, None
        if failed or ambiguous:
            error = (f"{reached} sent, {len(rejected)} refused, {len(unsent)} not sent (retryable), "
                     f"{len(ambiguous)} ambiguous: see their delivery rows")
    elif ambiguous:
        status, error = BatchStatus.AMBIGUOUS, f"{len(ambiguous)} ambiguous, {failed} failed: see their delivery rows"
    else:
        status = BatchStatus.FAILED
        error = "every recipient was refused" if not unsent else \
            f"nobody was sent: {len(rejected)} refused, {len(unsent)} not sent (retryable)"
    return Settlement(status, message_id=result.message_id, error=error, rejected=rejected, unsent=unsent,
                      ambiguous=ambiguous, message_ids=message_ids)


def _settle(ledger: LedgerConnection, batch_id, worker_id, settlement: Settlement, outgoing,
            suppressed: int = 0) -> BatchOutcome:
    recorded = ledger.run(lambda conn: settle_batch(conn, batch_id, worker_id, settlement))
    if not recorded:
        return BatchOutcome(batch_id, NOT_CLAIMED, error="overtaken by a recovery before settling")
    count = len(outgoing.recipients) if outgoing is not None else 0
    failed = len(settlement.rejected) + len(settlement.unsent)
    unsure = len(settlement.ambiguous)
    if settlement.rejected or settlement.unsent or settlement.ambiguous:  # each reader's own outcome
        return BatchOutcome(batch_id, settlement.status, sent=count - failed - unsure, failed=failed,
                            ambiguous=unsure, suppressed=suppressed, error=settlement.error)
    status = settlement.status
    if status == BatchStatus.SENT:
        return BatchOutcome(batch_id, status, sent=count, suppressed=suppressed)
    if status == BatchStatus.FAILED:
        return BatchOutcome(batch_id, status, failed=count, suppressed=suppressed, error=settlement.error)
    return BatchOutcome(batch_id, status, ambiguous=count, suppressed=suppressed, error=settlement.error)


_deliveries = Delivery.__table__
_subscribers = Subscriber.__table__
_SKIP_SUPPRESSED = (
    update(_deliveries)
    .where(_deliveries.c.id.in_(bindparam("ids", expanding=True)), _deliveries.c.status == DeliveryStatus.QUEUED)
    .values(status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.SUPPRESSED)
)
_RECIPIENTS = (  # (delivery id, subscriber id, email, zone): the batch's own rows, as planned
    select(_deliveries.c.id, _deliveries.c.subscriber_id, _deliveries.c.email, _deliveries.c.timezone)
    .where(_deliveries.c.batch_id == bindparam("b_id"), _deliveries.c.status == bindparam("b_status"))
    .order_by(_deliveries.c.id)
)
#: Which of these subscribers are no longer subscribed: answered from the partial index
#: ``ix_subscribers_inactive`` (a probe per reader), not by reading every reader's row. On
#: PostgreSQL the ids go as one array, not a thousand bind parameters.
_INACTIVE = select(_subscribers.c.id).where(
    _subscribers.c.id.in_(bindparam("s_ids", expanding=True)), _subscribers.c.status != SubscriberStatus.ACTIVE)
_INACTIVE_PG = select(_subscribers.c.id).where(
    _subscribers.c.id == any_(cast(bindparam("s_ids"), ARRAY(BigInteger))),
    _subscribers.c.status != SubscriberStatus.ACTIVE)


def _queued_recipients(conn, batch_id: int) -> tuple[list, int]:
    """The batch's queued recipients who are still subscribed, and how many are not:
    those who unsubscribed (or bounced) since planning are marked skipped, not sent (the
    UPDATE runs only when someone left)."""
    rows = _batch_rows(conn, batch_id, DeliveryStatus.QUEUED)
    inactive = _inactive(conn, [row[1] for row in rows]) if rows else set()
    if not inactive:
        return rows, 0
    gone = [row[0] for row in rows if row[1] in inactive]
    suppressed = conn.execute(_SKIP_SUPPRESSED, {"ids": gone}).rowcount
    return [row for row in rows if row[1] not in inactive], suppressed


def _inactive(conn, subscriber_ids: list[int]) -> set[int]:
    if conn.dialect.name == "postgresql":
        return {sid for (sid,) in fetch_tuples(conn, _INACTIVE_PG, {"s_ids": subscriber_ids}, cached=True)}
    return set(conn.execute(_INACTIVE, {"s_ids": subscriber_ids}).scalars())


def _batch_rows(conn, batch_id: int, status: str) -> list[tuple]:
    return fetch_tuples(conn, _RECIPIENTS, {"b_id": batch_id, "b_status": status}, cached=True)


def build_outgoing(conn, claimed: ClaimedBatch, rows, links: LinkMaker, config) -> OutgoingBatch:
    """The provider's view of a claimed batch: its body, dates that all its readers see
    alike filled in once, and each recipient's tokens (links, and their own dates where
    zones disagree: :mod:`.dates`) and headers."""
    dated = _dated_bodies.get(conn, claimed.body_id, claimed.body_fingerprint, {row[3] for row in rows})
    return OutgoingBatch(
        batch_id=claimed.batch_id,
        edition_id=claimed.edition_id,
        edition_date=claimed.edition_date,
        body=dated.body,
        recipients=_recipients(rows, claimed.body_id, links, dated),
        headers=shared_headers(config),
    )


def batch_recipients(conn, batch_id: int, body_id: int, body: RenderedEmail, links: LinkMaker,
                     status: str) -> tuple[RenderedEmail, list[Recipient]]:
    """A batch's deliveries in ``status`` (one read), as the send path builds them: the body
    dated for their zones, and each reader's token values and one-click headers."""
    rows = _batch_rows(conn, batch_id, status)
    dated = dated_for_zones(body, {row[3] for row in rows})
    return dated.body, _recipients(rows, body_id, links, dated)


def _recipients(rows, body_id: int, links: LinkMaker, dated: DatedBody) -> list[Recipient]:
    recipients = []
    for delivery_id, subscriber_id, email, zone in rows:
        tokens = links.token_values(subscriber_id, email, body_id)
        tokens.update(dated.values_for(zone))
        recipients.append(Recipient(delivery_id, subscriber_id, email, tokens, recipient_headers(tokens["unsubscribe_url"])))
    return recipients


class DatedBodies:
    """Recent bodies, and their copies dated for a set of zones, in this process.

    Keyed on the body's fingerprint (sha256 of its content) as well as its id, so an entry
    can only ever be served for the same content, whatever database the id came from.
    Shared by the sending threads; a miss reads the body once.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._bodies: OrderedDict[tuple[int, str], RenderedEmail] = OrderedDict()
        self._dated: OrderedDict[tuple[int, str, frozenset[str]], DatedBody] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, cache: OrderedDict, key):
        with self._lock:
            value = cache.get(key)
            if value is not None:
                cache.move_to_end(key)
            return value

    def _store(self, cache: OrderedDict, key, value) -> None:
        with self._lock:
            cache[key] = value
            cache.move_to_end(key)
            while len(cache) > self.size:
                cache.popitem(last=False)

    def body(self, conn, body_id: int, fingerprint: str) -> RenderedEmail:
        key = (body_id, fingerprint)
        body = self._cached(self._bodies, key)
        if body is None:
            body = rendered_email(conn.execute(_BODY, {"b_id": body_id}).one())
            self._store(self._bodies, key, body)
        return body

    def get(self, conn, body_id: int, fingerprint: str, zones: set[str]) -> DatedBody:
        # The sending minute is part of the key: the heading's date is the day it is sent.
        minute = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        key = (body_id, fingerprint, frozenset(zones), minute)
        dated = self._cached(self._dated, key)
        if dated is None:
            dated = dated_for_zones(self.body(conn, body_id, fingerprint), zones, minute)
            self._store(self._dated, key, dated)
        return dated


_dated_bodies = DatedBodies()
_stored = RenderedBody.__table__
_BODY = select(_stored.c.id, _stored.c.subject, _stored.c.preheader, _stored.c.html, _stored.c.text).where(
    _stored.c.id == bindparam("b_id"))


def rendered_email(body) -> RenderedEmail:
    """A stored body (a row or a :class:`RenderedBody`) as the provider-neutral value."""
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
    checked between batches (a worker's SIGTERM flag); a provider that halts stops it too."""
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
        if outcome.halt:
            log.info("stopping: %s; the remaining batches stay queued", outcome.halt)
            break
    return outcomes
