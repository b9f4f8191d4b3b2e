"""One batch: claim it, build its recipients and tokens, hand it to the provider, record
what happened. The only code that calls :meth:`Provider.send <.providers.Provider.send>`
(:func:`send_batch`; a proof or a signup confirmation, recorded nowhere, goes through
:func:`send_unrecorded`).

The provider call sits between two committed ledger writes (claim, settle). Whatever
goes wrong *after* the request may have left is recorded as ``ambiguous``, never
retried here; whatever goes wrong before it is ``failed``. One batch's failure never
stops the others, except a provider that halts (a refused API key, an outbox folder that
cannot be written) or a guard that holds sending: that batch goes back to the queue and
the runner starts no other (:mod:`.runners`).

Each ledger step runs on a :class:`~digest.deliver.ledger.connection.LedgerConnection`,
so a database connection lost while the provider was busy (or during the step) costs a
reconnection, not the edition.

A provider rate limited (SendGrid's 429 with a reset time) slows every sender of the
edition: :meth:`Sender.open` lets the provider's pause record the reset on the edition,
and each claim reads it back for this process's provider to wait out
(:mod:`.providers.rate_limit`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from ..links import LinkMaker
from ..models import BatchStatus
from ..report.guards import held_verdict
from ..runtime import Runtime
from .ledger import Settlement, claim_batch, release_batch, settle_batch, worker_identity
from .ledger.connection import LedgerConnection
from .ledger.rate_limits import record_rate_limit
from .providers import OutgoingBatch, Provider, ProviderError, SendResult
from .providers.rate_limit import RateLimitPause
from .recipients import build_outgoing, make_link_maker, queued_recipients
from .send_moments import send_moment

log = logging.getLogger(__name__)

NOT_CLAIMED = "not-claimed"  # another worker owns (or already finished) the batch
#: The provider halted the edition (refused key, unwritable outbox) or a guard holds
#: sending: the batch was put back, nothing of it sent, and no further batch should be started.
HALTED = "halted"


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: int
    status: str  # BatchStatus.SENT / FAILED / AMBIGUOUS, or NOT_CLAIMED / HALTED
    sent: int = 0  # recipients accepted
    failed: int = 0  # recipients refused or not taken, or all of a failed batch
    ambiguous: int = 0
    suppressed: int = 0  # unsubscribed between planning and sending: not sent
    error: str | None = None
    halt: str | None = None  # the provider cannot go on (also after a batch it partly sent)


@dataclass(frozen=True)
class Sender:
    """What sending batches needs, built once per process: the database, the provider,
    this process's identity for its claims, and the link signer."""

    runtime: Runtime
    provider: Provider
    worker_id: str
    links: LinkMaker

    @classmethod
    def open(cls, runtime: Runtime, provider: Provider, worker_id: str | None = None) -> "Sender":
        """Fails at once when the secret that signs links is missing."""
        sender = cls(runtime, provider, worker_id or worker_identity(), make_link_maker(runtime))
        pause = _pause(provider)
        if pause is not None:  # a 429's reset reaches the edition's other senders
            pause.share = lambda until, edition_id: edition_id is not None and record_rate_limit(
                runtime.engine, edition_id, datetime.fromtimestamp(until, timezone.utc))
        return sender


def _pause(provider: Provider) -> RateLimitPause | None:
    """The provider's rate-limit pause, when it has one (SendGrid)."""
    pause = getattr(provider, "pause", None)
    return pause if isinstance(pause, RateLimitPause) else None


def send_unrecorded(provider: Provider, outgoing: OutgoingBatch) -> SendResult:
    """A message the ledger does not record (a proof, a signup confirmation): handed to
    the provider as it is, its errors raised to the caller."""
    return provider.send(outgoing)


def send_batch(sender: Sender, batch_id: int, ledger: LedgerConnection | None = None) -> BatchOutcome:
    """Claim, send and settle one batch. Returns ``NOT_CLAIMED`` when another worker won.

    One connection, two ledger steps: the claim, the batch's reads, a suppression and the
    guards' verdict, all committed before the provider call, then the settlement; each run
    again on a new connection if the database connection is lost. Should preparing fail
    otherwise, whatever it left open is rolled back and the batch claimed again (the claim,
    committed already, finds itself) to record the failure.

    ``ledger``: the sending thread's connection, kept from batch to batch
    (:class:`~.ledger.connection.ThreadLedgers`); else one for this batch alone.
    """
    if ledger is None:
        with LedgerConnection(sender.runtime.engine, what=f"batch {batch_id}") as own:
            return _send_batch(sender, batch_id, own)
    ledger.what = f"batch {batch_id}"
    try:
        return _send_batch(sender, batch_id, ledger)
    finally:
        ledger.end_transaction()


def _send_batch(sender: Sender, batch_id: int, ledger: LedgerConnection) -> BatchOutcome:
    worker_id = sender.worker_id
    claimed_at = _now()  # this claim's stamp: a claim run again recognises itself by it
    try:
        prepared = ledger.run(lambda conn: _prepare(conn, batch_id, sender, claimed_at))
    except Exception as exc:  # nothing was sent: a plain failure
        log.exception("batch %s could not be prepared", batch_id)
        if not ledger.run(lambda conn: claim_batch(conn, batch_id, worker_id, now=claimed_at)):
            return BatchOutcome(batch_id, NOT_CLAIMED)
        return _settle(ledger, batch_id, worker_id, Settlement(BatchStatus.FAILED, error=f"not sent: {exc}"), None)
    if prepared is None:
        return BatchOutcome(batch_id, NOT_CLAIMED)
    outgoing, suppressed, held = prepared

    if not outgoing.recipients:
        return _settle(ledger, batch_id, worker_id, Settlement(BatchStatus.SENT), outgoing, suppressed)
    if held:  # a guard protecting the sender's reputation: back in the queue until released
        log.warning("batch %s put back in the queue: sending is held: %s", batch_id, held)
        ledger.run(lambda conn: release_batch(conn, batch_id, worker_id, f"held: {held}"))
        return BatchOutcome(batch_id, HALTED, suppressed=suppressed, error=held,
                            halt=f"a guard holds sending: {held}; 'digest resume --force' releases it")
    try:
        result = sender.provider.send(outgoing)
    except ProviderError as exc:
        if exc.halt:  # nothing of it went out: back in the queue, and the edition stops here
            log.info("batch %s put back in the queue: %s", batch_id, exc)
            reason = str(exc)
            ledger.run(lambda conn: release_batch(conn, batch_id, worker_id, reason))
            return BatchOutcome(batch_id, HALTED, suppressed=suppressed, error=reason, halt=reason)
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


def _prepare(conn, batch_id: int, sender: Sender, claimed_at: datetime):
    """Claim the batch, then read what sending it needs: its outgoing request, the
    readers suppressed, and why sending is held (or None); ``None`` when another worker
    holds it. One ledger step (run again, whole, on a lost connection: the claim
    recognises itself). Each statement is committed before anything is sent; the claim and
    the reads each as it runs (on PostgreSQL without a transaction's BEGIN and COMMIT
    round trips: :func:`digest.db.fetch_tuples`), a suppression or a guard's trip at the end."""
    try:
        claimed = claim_batch(conn, batch_id, sender.worker_id, now=claimed_at,
                              provider=sender.provider.name)  # its moment, for digest audit
        if claimed is None:
            return None
        if claimed.rate_limited_until is not None and (pause := _pause(sender.provider)) is not None:
            pause.observe(claimed.rate_limited_until.timestamp())  # waited out before its request
        rows, suppressed = queued_recipients(conn, batch_id)
        config = sender.runtime.settings.config
        outgoing = build_outgoing(claimed, rows, sender.links, config,
                                  send_moment(claimed_at))  # the emails' Date header and heading date
        held = None
        if outgoing.recipients:  # read by the claim's statement: no statement of its own per batch
            held = held_verdict(conn, claimed.edition_id, claimed.held_state, _now(), config.guards)
        conn.commit()  # the claim and its moment, the suppression check, a guard's trip: before anything is sent
    except Exception:
        if conn.in_transaction() and not conn.invalidated:
            conn.rollback()
        raise
    return outgoing, suppressed, held


def _sent(result: SendResult, outgoing: OutgoingBatch) -> Settlement:
    """Each reader's outcome on their own row; the batch is ``sent`` when anyone got it,
    else ``ambiguous`` when anyone may have, else ``failed``. A batch that went out with
    readers it did not reach says so in its error."""
    if not (result.rejected or result.unsent or result.ambiguous or result.per_recipient_ids):
        return Settlement(BatchStatus.SENT, message_id=result.message_id)  # everyone taken: nobody's own row
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
