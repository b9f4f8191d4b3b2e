"""The plan's ledger writes: a body stored once by its content, and numbered batches with
their delivery rows, in one transaction (so a batch never exists without its body and
recipients). The unique (subscriber, edition) row is the last guard: rows a concurrent
planner wrote first are not inserted again, and those readers count ``already-sent``
(as do readers erased since they were read: :mod:`digest.deliver.ledger.erasure`)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Iterable

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...content import RenderedEmail
from ...models import Batch, BatchStatus, Delivery, DeliveryStatus, Edition, RenderedBody, utcnow
from ...models.compressed import StoredForm, compressed_parts
from ..ledger import insert_for
from ..ledger.erasure import writing_deliveries
from .result import PlanSummary, SkipReason

log = logging.getLogger(__name__)

UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


_BODY_IDS = select(RenderedBody.__table__.c.id, RenderedBody.__table__.c.fingerprint).where(
    RenderedBody.__table__.c.fingerprint.in_(bindparam("fps", expanding=True)))
#: Bodies per INSERT: about 0.9 MB of compressed HTML and text at the edition's 8.6 KB a body (zlib level 3).
BODIES_PER_STATEMENT = 100


def store_body(session: Session, rendered: RenderedEmail) -> int:
    """The id of the stored body with this content, inserting it if new (:func:`store_bodies`)."""
    return store_bodies(session, [rendered])[rendered.fingerprint]


def store_bodies(session: Session, bodies: Iterable[RenderedEmail | StoredForm]) -> dict[str, int]:
    """Each body's id by its fingerprint, inserting those that are new (or pruned, and so
    written again) in one statement per :data:`BODIES_PER_STATEMENT` bodies; those another
    planner stored first are found by one more. ``html`` and ``text`` are stored
    compressed (:func:`compressed_parts`). A planner stores up to hundreds of new bodies
    at a time; one statement each took about 1.5x the time of 100 to a statement (the
    100,000-reader edition's 1,072 bodies, 8.2 MB compressed at zlib level 6 then, on PostgreSQL)."""
    table = RenderedBody.__table__
    at = utcnow()
    rows: dict[str, dict] = {}
    for rendered in bodies:  # one row per content: an upsert may not touch a row twice
        html_z, text_z = compressed_parts(rendered)  # compressed in the render worker when it rendered there
        rows.setdefault(rendered.fingerprint, {"fingerprint": rendered.fingerprint, "subject": rendered.subject,
                                               "preheader": rendered.preheader, "html": html_z, "text": text_z,
                                               "created_at": at})
    ids: dict[str, int] = {}
    values = list(rows.values())
    for start in range(0, len(values), BODIES_PER_STATEMENT):
        stmt = insert_for(session, table).values(values[start:start + BODIES_PER_STATEMENT])
        # A body pruned after [review] keep_bodies and rendered again gets its content back.
        stmt = stmt.on_conflict_do_update(
            index_elements=["fingerprint"], set_={"html": stmt.excluded.html, "text": stmt.excluded.text,
                                                  "pruned_at": None},
            where=table.c.pruned_at.is_not(None)).returning(table.c.id, table.c.fingerprint)
        ids.update((fingerprint, body_id) for body_id, fingerprint in session.execute(stmt))
    missing = [fingerprint for fingerprint in rows if fingerprint not in ids]
    if missing:
        ids.update((fingerprint, body_id) for body_id, fingerprint in session.execute(_BODY_IDS, {"fps": missing}))
    return ids


def write_batches(
    session: Session, edition_id: int, groups: list[tuple[int, list[int]]], skips: list[int],
    summary: PlanSummary, *, render_failed: dict[str, list[int]] | None = None, plan_xmin: int | None = None,
) -> None:
    """One transaction: numbered batches (a body and its readers' subscriber ids), their
    ``queued`` rows (each with its reader's address and zone: :func:`insert_deliveries`),
    and ``skipped`` rows (``skips``: nothing new; ``render_failed``: the readers of a body
    that failed, per error, which each row keeps). ``plan_xmin``: taken before the plan
    read its readers (:func:`~digest.deliver.ledger.departures.plan_horizon`).

    The first statement locks the edition row, so concurrent planners of one edition
    take turns choosing batch numbers (on SQLite it takes the database's write lock).
    """
    session.execute(update(Edition).where(Edition.id == edition_id).values(slot=Edition.slot))
    next_number = (session.scalar(select(func.max(Batch.number)).where(Batch.edition_id == edition_id)) or 0) + 1
    conn = session.connection()
    now = utcnow()
    batch_ids: dict[int, int] = {}
    if groups:
        rows = [
            {"edition_id": edition_id, "number": next_number + i, "body_id": body_id,
             "status": BatchStatus.PENDING, "attempts": 0, "created_at": now, "plan_xmin": plan_xmin}
            for i, (body_id, _readers) in enumerate(groups)
        ]
        returned = conn.execute(insert_for(session, Batch).returning(Batch.number, Batch.id), rows)
        batch_ids = dict(returned.all())
    subscriber_ids: list[int] = []
    row_batches: list[int] = []
    for i, (_body, readers) in enumerate(groups):
        subscriber_ids.extend(readers)
        row_batches.extend([batch_ids[next_number + i]] * len(readers))
    inserted_per_batch: Counter = Counter()
    if subscriber_ids:
        inserted_per_batch = insert_deliveries(session, edition_id, DeliveryStatus.QUEUED, None, now,
                                                subscriber_ids, row_batches)
    skipped_inserted = 0
    if skips:
        skipped_inserted = sum(insert_deliveries(session, edition_id, DeliveryStatus.SKIPPED, SkipReason.NO_NEW_ITEMS,
                                                  now, skips).values())
    for error, readers in (render_failed or {}).items():
        inserted = sum(insert_deliveries(session, edition_id, DeliveryStatus.SKIPPED, SkipReason.RENDER_FAILED,
                                          now, readers, error=error[:2000]).values())
        summary.skipped[SkipReason.RENDER_FAILED] += inserted
        summary.skipped[SkipReason.ALREADY_SENT] += len(readers) - inserted
    empty = [bid for bid in batch_ids.values() if not inserted_per_batch[bid]]
    if empty:
        session.execute(delete(Batch).where(Batch.id.in_(empty)))
    queued = sum(inserted_per_batch.values())
    summary.queued += queued
    summary.batches += len(batch_ids) - len(empty)
    summary.skipped[SkipReason.NO_NEW_ITEMS] += skipped_inserted
    summary.skipped[SkipReason.ALREADY_SENT] += (len(subscriber_ids) - queued) + (len(skips) - skipped_inserted)
    if len(subscriber_ids) - queued:
        log.info("%d subscriber(s) were planned concurrently by another process, or erased",
                 len(subscriber_ids) - queued)


#: The rows' two columns (subscriber ids, batch ids) travel as text, each joined by commas,
#: split again by PostgreSQL: the driver's array parameters cost 3.6-4.3 us of Python per
#: row (each element dumped and checked for quoting), joining 0.35-0.4 us, and PostgreSQL
#: spends the same on either (measured on 5,000-row statements). A column of NULLs (skipped
#: rows' batch) goes as NULL, which ``unnest`` pads with NULLs. Only readers still in
#: ``subscribers`` get a row (:mod:`digest.deliver.ledger.erasure`), each looked up by its
#: key, and a queued row takes its reader's address and zone from that look-up (a skipped
#: row keeps neither): the planner does not carry a million addresses and zone names to
#: send them back (its CPU 2.6 us a reader less, PostgreSQL's about the same:
#: benchmarks/RESULTS.md, "Addresses from the look-up"). A LATERAL subquery with a LIMIT
#: is never turned into a join, which PostgreSQL makes a hash join over every subscriber
#: for a chunk of 20,000 rows, a cost that grows with the list. Backend CPU a row,
#: 20,000-row statements into a planned ledger of 200,000 readers: 6.5-7 us with the
#: look-ups, the same as a join or none at that size; 11-12 us with the foreign key this
#: replaced.
_PG_INSERT_DELIVERIES = """
    WITH inserted AS (
        INSERT INTO deliveries (edition_id, subscriber_id, batch_id, timezone, email, status, skip_reason, error,
                                created_at)
        SELECT :edition_id, r.subscriber_id, r.batch_id, {address}, :status, :skip_reason, :error, :created_at
        FROM unnest(CAST(string_to_array(:subscriber_ids, ',') AS bigint[]),
                    CAST(string_to_array(:batch_ids, ',') AS bigint[])) AS r(subscriber_id, batch_id)
        CROSS JOIN LATERAL (SELECT s.timezone, s.email FROM subscribers s WHERE s.id = r.subscriber_id LIMIT 1) AS s
        {on_conflict}
        RETURNING batch_id
    )
    SELECT batch_id, count(*) FROM inserted GROUP BY batch_id
"""
#: What a row keeps of its reader: a queued row their address and zone, a skipped one neither.
_ADDRESSED, _UNADDRESSED = "s.timezone, s.email", "NULL, NULL"
_ON_CONFLICT = "ON CONFLICT (subscriber_id, edition_id) DO NOTHING"
#: (addressed, skipping conflicts) -> the statement.
_PG_INSERTS = {(addressed, skipping): text(_PG_INSERT_DELIVERIES.format(
    address=_ADDRESSED if addressed else _UNADDRESSED, on_conflict=_ON_CONFLICT if skipping else ""))
    for addressed in (True, False) for skipping in (True, False)}
#: SQLite: the rows as one JSON array of [subscriber, batch], in their order (the CROSS
#: JOIN keeps ``json_each`` the outer loop); only readers still in ``subscribers`` get a
#: row. (``WHERE`` also keeps SQLite from reading ``ON CONFLICT`` as the join's.)
_SQLITE_INSERT = """
    INSERT INTO deliveries (edition_id, subscriber_id, batch_id, timezone, email, status, skip_reason, error,
                            created_at)
    SELECT :edition_id, s.id, json_extract(r.value, '$[1]'), {address}, :status, :skip_reason, :error, :created_at
    FROM json_each(:rows) AS r CROSS JOIN subscribers AS s
    WHERE s.id = json_extract(r.value, '$[0]')
    ON CONFLICT (subscriber_id, edition_id) DO NOTHING
    RETURNING batch_id
"""
_SQLITE_INSERTS = {addressed: text(_SQLITE_INSERT.format(address=_ADDRESSED if addressed else _UNADDRESSED))
                   .bindparams(bindparam("created_at", type_=Delivery.__table__.c.created_at.type))
                   for addressed in (True, False)}


def _joined_ids(values: list[int | None]) -> str | None:
    """Integers as ``1,2,3``; None for a column of NULLs (or no values)."""
    if not values or values[0] is None:
        if any(v is not None for v in values):
            raise ValueError("a column of ids is all NULL or none")
        return None
    return ",".join(map(str, values))


def insert_deliveries(session: Session, edition_id: int, status: str, skip_reason: str | None, created_at,
                       subscriber_ids: list[int], batch_ids: list[int] | None = None, *,
                       error: str | None = None) -> Counter:
    """Insert delivery rows (one per subscriber id, with its batch: ``batch_ids``, in the
    same order, or none), skipping any (subscriber, edition) already in the ledger; returns
    how many rows went in per batch id, leaving out readers no longer in ``subscribers``.
    A ``queued`` row keeps its reader's address and zone as they are when it is written
    (sending reads a batch's recipients from its rows; the zone dates their email). On
    PostgreSQL one statement over two columns of ids sent as text
    (:data:`_PG_INSERT_DELIVERIES`), counted there (not a row back per reader); on SQLite
    one statement over a JSON array. First, the lock that keeps erasures out until the
    transaction ends (:func:`~digest.deliver.ledger.erasure.writing_deliveries`)."""
    writing_deliveries(session)
    addressed = status == DeliveryStatus.QUEUED
    if batch_ids is None:
        batch_ids = [None] * len(subscriber_ids)
    params = {"edition_id": edition_id, "status": status, "skip_reason": skip_reason, "error": error,
              "created_at": created_at}
    if session.get_bind().dialect.name == "postgresql":
        # In the order given: write_batches gives each batch's readers together, so its rows
        # share a few heap pages and its send reads and settles those (35 pages for 1,000
        # rows) instead of one page per reader: in subscriber order, the edition's batches
        # were interleaved row by row. Reading and settling a million readers' batches
        # took 15.7 s of PostgreSQL's statement time against 12.5-12.8 s in batch order,
        # the INSERT 11.9-12.0 s against 13.4-14.0 s (its key entries no longer arrive in
        # ascending order): benchmarks/RESULTS.md, "Batch order".
        params |= {"subscriber_ids": _joined_ids(subscriber_ids), "batch_ids": _joined_ids(batch_ids)}
        # A plain INSERT first: ON CONFLICT DO NOTHING inserts each row speculatively, about
        # twice the cost of the insert itself, and a conflict needs another planner of the
        # same edition to have written one of these readers since this one read them. When
        # one did, the savepoint is rolled back and the rows go in skipping those.
        try:
            with session.begin_nested():
                return Counter(dict(session.execute(_PG_INSERTS[addressed, False], params).all()))
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
        return Counter(dict(session.execute(_PG_INSERTS[addressed, True], params).all()))
    params["rows"] = json.dumps(list(zip(subscriber_ids, batch_ids, strict=True)), separators=(",", ":"))
    return Counter(batch_id for (batch_id,) in session.execute(_SQLITE_INSERTS[addressed], params))
