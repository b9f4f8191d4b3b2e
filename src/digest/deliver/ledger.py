"""The delivery ledger: editions, batch claims and outcomes.

Every state change here is a conditional UPDATE whose row count says whether it
happened, committed at once, so two processes (or a process and its own restart) can
never both believe they own a batch:

    pending --claim--> sending --settle--> sent | failed | ambiguous
                          \\--recover (owner gone)--> ambiguous

A batch whose owner vanished between claim and settle may or may not have reached the
provider, so it becomes ``ambiguous`` and is only resent when an operator asks
(:func:`reset_ambiguous`, ``digest send --resend-ambiguous``).

Each reader's own outcome is on their delivery row: a batch that went out may still hold
readers the provider refused (``failed``) or whose message may or may not have left
(``ambiguous``). :func:`reset_batches` puts those readers back in the queue one by one,
whatever their batch's status.

Claim and settle can each be run again after a lost database connection
(:class:`~digest.deliver.retry.LedgerConnection`): a claim recognises its own earlier
success by its time stamp, a settlement by the batch already holding its outcome.
"""

from __future__ import annotations

import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import Batch, BatchStatus, Delivery, DeliveryStatus, Edition, RenderedBody, Subscriber
from ..report.counting import count_sent
from ..select.snapshot import window_end as snapshot_window_end

log = logging.getLogger(__name__)

#: How long a claim made on another host is trusted before its batch counts as stale.
#: Longer than any provider's retry deadline, so a slow but live sender is not overtaken.
DEFAULT_LEASE = timedelta(minutes=15)

_SETTLED_DELIVERY = {
    BatchStatus.SENT: DeliveryStatus.SENT,
    BatchStatus.FAILED: DeliveryStatus.FAILED,
    BatchStatus.AMBIGUOUS: DeliveryStatus.AMBIGUOUS,
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def insert_for(session: Session, model):
    """An INSERT that supports ``on_conflict_do_nothing`` on SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"the ledger supports SQLite and PostgreSQL, not {dialect}")


# ----------------------------------------------------------------- editions


def get_or_create_edition(session: Session, edition_date: date, slot: str = "daily") -> Edition:
    """The edition for ``edition_date``/``slot``; created if missing, safe under races
    (the insert does nothing when a concurrent process created it first)."""
    stmt = insert_for(session, Edition).values(date=edition_date, slot=slot, created_at=_now())
    session.execute(stmt.on_conflict_do_nothing(index_elements=["date", "slot"]))
    session.commit()
    return session.scalars(select(Edition).where(Edition.date == edition_date, Edition.slot == slot)).one()


def find_edition(session: Session, edition_date: date, slot: str = "daily") -> Edition | None:
    return session.scalars(select(Edition).where(Edition.date == edition_date, Edition.slot == slot)).one_or_none()


# ----------------------------------------------------------------- worker identity


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), to tell a live process
    from a new one that reused its pid. ``None`` where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19]  # field 22 overall: starttime


def worker_identity(pid: int | None = None) -> str:
    """``host:pid:start``, recorded as ``claimed_by`` so a later run can tell whether the
    claimant is still alive."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or '?'}"


@dataclass(frozen=True)
class Claimant:
    host: str
    pid: int
    start: str

    @classmethod
    def parse(cls, claimed_by: str | None) -> "Claimant | None":
        try:
            host, pid, start = (claimed_by or "").rsplit(":", 2)
            return cls(host, int(pid), start)
        except ValueError:
            return None

    def is_alive_here(self) -> bool:
        """On this host: is the very process that claimed still running?"""
        current = _process_start(self.pid)
        if current is not None:
            return self.start == "?" or current == self.start
        if self.start != "?" and Path("/proc/self/stat").exists():
            return False  # /proc works here, and that pid has no entry: gone
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def claim_is_stale(claimed_by: str | None, claimed_at: datetime | None, now: datetime, lease: timedelta) -> bool:
    claimant = Claimant.parse(claimed_by)
    if claimant is not None and claimant.host == socket.gethostname():
        return not claimant.is_alive_here()
    return claimed_at is None or now - claimed_at > lease


# ----------------------------------------------------------------- batches


# Prebuilt Core statements for the send path (claim, settle): built and compiled once per
# process instead of once per batch, and executed on a plain Connection or a Session
# alike. The send path runs them ~10 times per batch, thousands of batches per edition.
_batches = Batch.__table__
_deliveries = Delivery.__table__
_subscribers = Subscriber.__table__
_bodies = RenderedBody.__table__
_editions = Edition.__table__

_CLAIM = (  # pending, or already ours from this very claim (its commit's answer was lost)
    update(_batches)
    .where(_batches.c.id == bindparam("claim_id"),
           or_(_batches.c.status == BatchStatus.PENDING,
               and_(_batches.c.status == BatchStatus.SENDING, _batches.c.claimed_by == bindparam("own_by"),
                    _batches.c.claimed_at == bindparam("own_at"))))
    .values(status=BatchStatus.SENDING, claimed_by=bindparam("claim_by"), claimed_at=bindparam("claim_at"),
            attempts=_batches.c.attempts + 1)
    .returning(
        _batches.c.body_id,
        _batches.c.edition_id,
        select(_editions.c.date).where(_editions.c.id == _batches.c.edition_id).correlate(_batches).scalar_subquery(),
        select(_bodies.c.fingerprint).where(_bodies.c.id == _batches.c.body_id).correlate(_batches).scalar_subquery(),
    )
)
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


def claim_batch(
    session: Session | Connection, batch_id: int, worker_id: str, *, now: datetime | None = None, commit: bool = True
) -> ClaimedBatch | None:
    """Compare-and-set ``pending -> sending``; the claimed batch when this caller won, else
    ``None``. Committed, unless ``commit=False``: then the caller commits it (with its
    other writes) before sending.

    Run again with the same ``now`` after the connection was lost, it finds the batch
    already claimed by this very claim and returns it again (the lost commit had landed).
    """
    now = now or _now()
    row = session.execute(_CLAIM, {"claim_id": batch_id, "claim_by": worker_id, "claim_at": now,
                                   "own_by": worker_id, "own_at": now}).first()
    if commit:
        session.commit()
    return ClaimedBatch(batch_id, *row) if row is not None else None


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
    settled = session.execute(_SETTLE_BATCH, params).first()
    if settled is None:
        already = session.execute(_SETTLED_AS, params).first()
        session.rollback()
        if already is not None and tuple(already) == (settlement.status, worker_id):
            return True  # recorded by this settlement before the connection was lost
        log.warning("batch %s is no longer held by %s; its outcome (%s) was not recorded",
                    batch_id, worker_id, settlement.status)
        return False

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


#: Sent batches per statement when recording readers' last digest (bounds bind parameters).
_RECORD_CHUNK = 2000


def record_last_digests(session: Session | Connection, edition_id: int | None = None, *, parts: int = 1,
                        open_session: Callable[[], Session] | None = None) -> int:
    """Copy each reader's latest send from the ledger into ``subscribers.last_digest_at``,
    for every sent batch not yet recorded (of ``edition_id``, or of any edition). Returns
    the number of subscribers updated. Idempotent: a later send never moves it back.

    Why not as each batch settles: a batch's readers are spread over the whole subscriber
    table, so updating them batch by batch touched a random page per reader (at a million
    readers, the costliest statement of an edition, ~40 s of PostgreSQL's time on two
    cores); one statement per edition updates them in table order. With ``parts`` > 1
    and ``open_session`` (PostgreSQL), the subscriber table is split into that many id
    ranges, updated at once on their own connections (the batches are marked recorded
    once every part is done; a part that fails leaves them unrecorded, to be done again).
    ``send_edition`` records its edition once its batches are settled, and planning
    records whatever is left first (a run that stopped before recording), so selection
    always sees every digest the ledger says was sent.
    """
    # Locked in id order, a chunk at a time: a second recorder (the worker's next plan while
    # `digest send` records) waits for the rows, then finds them recorded, rather than
    # updating the same subscribers in another order (a deadlock).
    query = (select(_batches.c.id).where(_batches.c.status == BatchStatus.SENT, ~_batches.c.readers_recorded)
             .order_by(_batches.c.id).limit(_RECORD_CHUNK).with_for_update())
    if edition_id is not None:
        query = query.where(_batches.c.edition_id == edition_id)
    # (SQLite has one writer at a time: one part there.)
    in_parts = parts > 1 and open_session is not None and session.get_bind().dialect.name == "postgresql"
    ranges: list[tuple[int, int]] = []  # read once there is something to record
    updated = 0
    while chunk := list(session.scalars(query)):
        if not in_parts:
            updated += session.execute(_record_statement(chunk, None)).rowcount
        else:
            def record_part(id_range, chunk=chunk):
                with open_session() as own:
                    count = own.execute(_record_statement(chunk, id_range)).rowcount
                    own.commit()
                    return count

            ranges = ranges or _id_ranges(session, parts)
            with ThreadPoolExecutor(len(ranges), thread_name_prefix="digest-record") as pool:
                updated += sum(pool.map(record_part, ranges))
        session.execute(update(_batches).where(_batches.c.id.in_(chunk)).values(readers_recorded=True)
                        .execution_options(synchronize_session=False))
        session.commit()
    return updated


def _id_ranges(session, parts: int) -> list[tuple[int, int]]:
    low, high = session.execute(select(func.min(_subscribers.c.id), func.max(_subscribers.c.id))).one()
    if low is None:
        return [(0, 0)]
    step = max(1, (high - low + parts) // parts)
    return [(first, min(first + step - 1, high)) for first in range(low, high + 1, step)]


def _record_statement(batch_ids: list[int], id_range: tuple[int, int] | None):
    """UPDATE subscribers from the latest sent delivery of each, among ``batch_ids``
    (and, given a range, only subscribers whose id is in it)."""
    condition = [_deliveries.c.batch_id.in_(batch_ids), _deliveries.c.status == DeliveryStatus.SENT]
    if id_range is not None:
        condition.append(_deliveries.c.subscriber_id.between(*id_range))
    sent_from, window_end = snapshot_window_end(_deliveries)  # a drafted edition's cut (digest.select.snapshot)
    latest = (
        select(_deliveries.c.subscriber_id, func.max(window_end).label("sent_at")).select_from(sent_from)
        .where(*condition)
        .group_by(_deliveries.c.subscriber_id)
        .subquery()
    )
    return (
        update(_subscribers)
        .where(_subscribers.c.id == latest.c.subscriber_id,
               or_(_subscribers.c.last_digest_at.is_(None), _subscribers.c.last_digest_at < latest.c.sent_at))
        .values(last_digest_at=latest.c.sent_at)
        .execution_options(synchronize_session=False)
    )


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


def reset_ambiguous(session: Session, edition_id: int) -> list[int]:
    return reset_batches(session, edition_id, BatchStatus.AMBIGUOUS)


def pending_batch_ids(session: Session, edition_id: int) -> list[int]:
    return list(session.scalars(
        select(Batch.id).where(Batch.edition_id == edition_id, Batch.status == BatchStatus.PENDING).order_by(Batch.number)
    ))
