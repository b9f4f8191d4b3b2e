"""Claiming a batch and recording its outcome: the send path's two ledger writes.

Each is a conditional UPDATE whose row count says whether it happened, so two processes
can never both believe they own a batch. Claim and settle can each be run again after a
lost database connection (:class:`.connection.LedgerConnection`): a claim recognises its
own earlier success by its time stamp, a settlement by the batch already holding its
outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import Connection, LargeBinary, and_, bindparam, case, exists, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session

from ...db import fetch_tuples
from ...models import Batch, BatchStatus, Delivery, DeliveryStatus, Edition, EditionCounter, RenderedBody
from ...report.counting import count_sent, sent_counter_upsert, sent_params
from ...report.guards import held_state_columns, held_state_params
from ..send_moments import CLAIM_MOMENT, moment_params

log = logging.getLogger(__name__)

_SETTLED_DELIVERY = {
    BatchStatus.SENT: DeliveryStatus.SENT,
    BatchStatus.FAILED: DeliveryStatus.FAILED,
    BatchStatus.AMBIGUOUS: DeliveryStatus.AMBIGUOUS,
}


def _now() -> datetime:
    return datetime.now(timezone.utc)



# Prebuilt Core statements for the send path (claim, settle): built and compiled once per
# process instead of once per batch, and executed on a plain Connection or a Session
# alike. The send path runs them ~10 times per batch, thousands of batches per edition.
_batches = Batch.__table__
_deliveries = Delivery.__table__
_bodies = RenderedBody.__table__
_editions = Edition.__table__
_counters = EditionCounter.__table__

_CLAIM_UPDATE = (  # pending, or already ours from this very claim (its commit's answer was lost)
    update(_batches)
    .where(_batches.c.id == bindparam("claim_id"),
           or_(_batches.c.status == BatchStatus.PENDING,
               and_(_batches.c.status == BatchStatus.SENDING, _batches.c.claimed_by == bindparam("own_by"),
                    _batches.c.claimed_at == bindparam("own_at"))))
    .values(status=BatchStatus.SENDING, claimed_by=bindparam("claim_by"), claimed_at=bindparam("claim_at"),
            # One attempt, however often the claim runs: run again, it finds itself and counts nothing.
            attempts=case((_batches.c.status == BatchStatus.PENDING, _batches.c.attempts + 1),
                          else_=_batches.c.attempts))
)
_CLAIMED = (  # what a claim returns
    _batches.c.body_id,
    _batches.c.edition_id,
    select(_editions.c.date).where(_editions.c.id == _batches.c.edition_id).correlate(_batches).scalar_subquery(),
    select(_bodies.c.fingerprint).where(_bodies.c.id == _batches.c.body_id).correlate(_batches).scalar_subquery(),
    # Another sender's rate-limit reset, read with the claim (no query of its own).
    select(_editions.c.rate_limited_until).where(_editions.c.id == _batches.c.edition_id)
    .correlate(_batches).scalar_subquery(),
)
_CLAIM = _CLAIM_UPDATE.returning(*_CLAIMED)


def _body_column(column):
    return select(column).where(_bodies.c.id == _batches.c.body_id).correlate(_batches).scalar_subquery()


#: The batch's body as stored (html and text compressed, read as bytes), last in a claim
#: that builds the batch's emails: the body's own SELECT was a round trip a batch.
_STORED_BODY = (_body_column(_bodies.c.subject), _body_column(_bodies.c.preheader),
                _body_column(type_coerce(_bodies.c.html, LargeBinary)),
                _body_column(type_coerce(_bodies.c.text, LargeBinary)), _body_column(_bodies.c.pruned_at))
# A claim that builds the batch's emails also records its moment (digest audit), in the same
# UPDATE, and reads what the guards judge (was a statement of its own per batch) and its body.
_CLAIM_TO_SEND = _CLAIM_UPDATE.values(**CLAIM_MOMENT).returning(*_CLAIMED, *held_state_columns(_batches.c.edition_id),
                                                                 *_STORED_BODY)
_SETTLE_BATCH = (
    update(_batches)
    .where(_batches.c.id == bindparam("settle_id"), _batches.c.status == BatchStatus.SENDING,
           _batches.c.claimed_by == bindparam("settle_by"))
    .values(status=bindparam("settle_status"), provider_message_id=bindparam("settle_message_id"),
            error=bindparam("settle_error"), sent_at=bindparam("settle_sent_at"),
            readers_in_doubt=bindparam("settle_in_doubt"))
    .returning(_batches.c.edition_id)
)
_DELIVERY_OUTCOME = (  # one row: refused, unsent or ambiguous recipient
    update(_deliveries).where(_deliveries.c.id == bindparam("row_id"))
    .values(status=bindparam("row_status"), error=bindparam("row_error"), refused=bindparam("row_refused"))
)
_SETTLED_AS = select(_batches.c.status, _batches.c.claimed_by).where(_batches.c.id == bindparam("settle_id"))
_RELEASE = (  # sending -> pending: nothing of it was sent (the provider halted the edition)
    update(_batches)
    .where(_batches.c.id == bindparam("release_id"), _batches.c.status == BatchStatus.SENDING,
           _batches.c.claimed_by == bindparam("release_by"))
    .values(status=BatchStatus.PENDING, claimed_by=None, claimed_at=None, error=bindparam("release_error"))
)
_DELIVERY_MESSAGE_ID = (  # one row: the provider's id for this recipient's message
    update(_deliveries).where(_deliveries.c.id == bindparam("row_id"))
    .values(provider_message_id=bindparam("row_message_id"))
)
_QUEUED_IN_BATCH = (_deliveries.c.batch_id == bindparam("settle_id"), _deliveries.c.status == DeliveryStatus.QUEUED)
_QUEUED_SENT = (  # the batch's message id stays on the batch (see Delivery.provider_message_id)
    update(_deliveries).where(*_QUEUED_IN_BATCH)
    .values(status=DeliveryStatus.SENT, sent_at=bindparam("settle_sent_at"))
)
#: A batch sent to everyone, settled in one statement on PostgreSQL (was two: the batch's
#: UPDATE, then its queued rows'): the rows are marked only when the batch's UPDATE
#: matched (it is still this worker's), and the statement returns the batch's edition
#: (NULL when it did not match) and how many rows it marked sent.
_SETTLED_CTE = _SETTLE_BATCH.cte("settled")
_MARKED_CTE = (
    update(_deliveries).where(*_QUEUED_IN_BATCH, exists(select(_SETTLED_CTE.c.edition_id)))
    .values(status=DeliveryStatus.SENT, sent_at=bindparam("settle_sent_at"))
    .returning(_deliveries.c.id).cte("marked")
)
_MARKED_COUNT = select(func.count()).select_from(_MARKED_CTE).scalar_subquery()
#: ... and adds them to the edition's ``sent`` counter in the same statement (was a third
#: statement, the upsert of :func:`count_sent`, with its own round trip).
_COUNTED_CTE = sent_counter_upsert(select(_SETTLED_CTE.c.edition_id).scalar_subquery(), _MARKED_COUNT) \
    .returning(_counters.c.id).cte("counted")
_SETTLE_ALL_SENT = select(select(_SETTLED_CTE.c.edition_id).scalar_subquery(), _MARKED_COUNT,
                          select(func.count()).select_from(_COUNTED_CTE).scalar_subquery())
_QUEUED_UNSENT = (
    update(_deliveries).where(*_QUEUED_IN_BATCH)
    .values(status=bindparam("settle_status"), error=bindparam("settle_error"))
)


@dataclass(frozen=True)
class ClaimedBatch:
    """A batch this worker now owns, with what sending it needs to know."""

    batch_id: int
    body_id: int
    edition_id: int
    edition_date: date
    body_fingerprint: str
    #: No request before this time: a sender of the edition was rate limited (HTTP 429).
    rate_limited_until: datetime | None = None
    #: What the guards judge (:func:`digest.report.guards.held_verdict`), read by a claim
    #: that builds the batch's emails (``provider`` given), as of the claim.
    held_state: object = field(default=None, compare=False, repr=False)
    #: The body as stored, read by that claim too: (subject, preheader, html and text
    #: compressed, pruned_at) for :func:`digest.deliver.recipients.build_outgoing`.
    stored_body: tuple | None = field(default=None, compare=False, repr=False)


def claim_batch(
    session: Session | Connection, batch_id: int, worker_id: str, *, now: datetime | None = None, commit: bool = True,
    provider: str | None = None,
) -> ClaimedBatch | None:
    """Compare-and-set ``pending -> sending``; the claimed batch when this caller won, else
    ``None``. Committed, unless ``commit=False``: then the caller commits it (with its
    other writes) before sending. With ``provider`` (the claim builds the batch's emails
    for it), the claim's time and the provider are recorded on the batch in the same
    statement (:mod:`digest.deliver.send_moments`), which also reads what the guards judge
    (:attr:`ClaimedBatch.held_state`).

    Run again with the same ``now`` after the connection was lost, it finds the batch
    already claimed by this very claim and returns it again (the lost commit had landed).
    """
    now = now or _now()
    params = {"claim_id": batch_id, "claim_by": worker_id, "claim_at": now, "own_by": worker_id, "own_at": now}
    if provider is None:
        row = session.execute(_CLAIM, params).first()
        held_state = stored_body = None
    else:  # once a batch sent: on the driver's cursor, the guards' state read by name
        rows = fetch_tuples(_connection(session), _CLAIM_TO_SEND,
                            params | moment_params(now, provider) | held_state_params(now), cached=True, named=True,
                            alone=commit)  # committed as it runs, when it is a transaction of its own
        row = held_state = rows[0] if rows else None
        stored_body = tuple(row[-len(_STORED_BODY):]) if row is not None else None
    if commit:
        session.commit()
    return (ClaimedBatch(batch_id, *row[:len(_CLAIMED)], held_state=held_state, stored_body=stored_body)
            if row is not None else None)


@dataclass
class Settlement:
    """What became of a claimed batch, as the ledger records it."""

    status: str  # BatchStatus.SENT / FAILED / AMBIGUOUS
    message_id: str | None = None
    error: str | None = None
    rejected: dict[int, str] = field(default_factory=dict)  # delivery id -> reason: its address refused
    unsent: dict[int, str] = field(default_factory=dict)  # delivery id -> reason: not sent, retryable
    ambiguous: dict[int, str] = field(default_factory=dict)  # delivery id -> reason (may have gone out)
    message_ids: dict[int, str] = field(default_factory=dict)  # delivery id -> message id


def settle_batch(
    session: Session | Connection, batch_id: int, worker_id: str, settlement: Settlement, *, now: datetime | None = None
) -> bool:
    """Move a batch this worker holds from ``sending`` to its outcome, with its deliveries.

    In a sent batch, recipients the provider refused or did not take become ``failed``
    (``refused`` when it refused the address itself), those whose message may have left
    ``ambiguous``, and the rest ``sent`` (their subscribers' ``last_digest_at`` is set
    later, for a whole edition at once: :func:`record_last_digests`); the readers sent
    are added to the edition's ``sent`` counter in the same transaction (one statement),
    so the report never counts deliveries. Returns False,
    changing nothing, when the batch is no longer this worker's (a recovery overtook it).
    Run again after a lost connection, it returns True when the lost commit had landed.
    """
    if settlement.status not in _SETTLED_DELIVERY:
        raise ValueError(f"cannot settle a batch as {settlement.status!r}")
    now = now or _now()
    sent = settlement.status == BatchStatus.SENT
    params = {"settle_id": batch_id, "settle_by": worker_id, "settle_status": settlement.status,
              "settle_message_id": settlement.message_id, "settle_error": settlement.error,
              "settle_sent_at": now if sent else None, "settle_in_doubt": bool(settlement.ambiguous)}
    if sent and _one_statement(session) and not (settlement.rejected or settlement.unsent or settlement.ambiguous
                                                  or settlement.message_ids):
        [(edition_id, _, _)] = fetch_tuples(_connection(session), _SETTLE_ALL_SENT,
                                            params | sent_params(now.astimezone(timezone.utc).date()), cached=True,
                                            alone=True)
        if edition_id is None:
            return _not_settled(session, params, batch_id, worker_id, settlement)
        session.commit()
        return True
    settled = session.execute(_SETTLE_BATCH, params).first()
    if settled is None:
        return _not_settled(session, params, batch_id, worker_id, settlement)

    for status, refused, reasons in ((DeliveryStatus.FAILED, True, settlement.rejected),
                                     (DeliveryStatus.FAILED, False, settlement.unsent),
                                     (DeliveryStatus.AMBIGUOUS, False, settlement.ambiguous)):
        if reasons:
            session.execute(_DELIVERY_OUTCOME, [
                {"row_id": d, "row_status": status, "row_error": reason[:2000], "row_refused": refused}
                for d, reason in reasons.items()])
    own_ids = [{"row_id": d, "row_message_id": mid} for d, mid in settlement.message_ids.items()
               if d not in settlement.rejected and d not in settlement.unsent and d not in settlement.ambiguous]
    if own_ids:
        session.execute(_DELIVERY_MESSAGE_ID, own_ids)
    if sent:
        readers = session.execute(_QUEUED_SENT, params).rowcount
        count_sent(session, settled.edition_id, readers, now.astimezone(timezone.utc).date())
    else:
        session.execute(_QUEUED_UNSENT, params | {"settle_status": _SETTLED_DELIVERY[settlement.status]})
    session.commit()
    return True



def _connection(session: Session | Connection) -> Connection:
    """The connection a session's transaction runs on (begun if need be), or the connection itself."""
    return session if isinstance(session, Connection) else session.connection()


def _one_statement(session: Session | Connection) -> bool:
    """Whether the database runs :data:`_SETTLE_ALL_SENT` (UPDATEs in a WITH: PostgreSQL)."""
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    return dialect.name == "postgresql"


def _not_settled(session, params: dict, batch_id: int, worker_id: str, settlement: Settlement) -> bool:
    """The settle's UPDATE matched nothing: True when this very settlement had landed
    before the connection was lost, else False (a recovery overtook the batch). Rolled back."""
    already = session.execute(_SETTLED_AS, params).first()
    session.rollback()
    if already is not None and tuple(already) == (settlement.status, worker_id):
        return True  # recorded by this settlement before the connection was lost
    log.warning("batch %s is no longer held by %s; its outcome (%s) was not recorded",
                batch_id, worker_id, settlement.status)
    return False


def release_batch(session: Session | Connection, batch_id: int, worker_id: str, reason: str) -> bool:
    """Give back a batch this worker claimed but sent nothing of (``sending -> pending``),
    its readers still queued: the provider halted the edition before taking it. True when
    it is pending now (also when an earlier, lost commit had released it)."""
    released = session.execute(_RELEASE, {"release_id": batch_id, "release_by": worker_id,
                                          "release_error": reason[:2000]}).rowcount == 1
    if not released:
        released = session.execute(select(_batches.c.status).where(_batches.c.id == batch_id)).scalar() \
            == BatchStatus.PENDING
    session.commit()
    return released


