"""Which readers are in flight in another edition is found from the unsettled batches, read
first, then those batches' rows by ``ix_deliveries_batch_id`` (``digest.deliver.ledger.in_flight``),
and a planner's chunk read asks nothing about it when no batch is in flight. Asked as
``batch_id IN (SELECT ...)`` inside each chunk's read, PostgreSQL scanned every delivery row
with a queued status, the edition being planned included, and looked up each one's
batch, once per chunk: on a ledger written since its last ANALYZE (a fresh one, an
edition's rows just planned). Which readers a plan skips as in flight is tested on both
databases in ``test_ambiguous_editions.py``. And what a plan counts as already in the
edition before it reads any chunk: their rows in it (``already_in``; its plan at a small
size is the same either way, so only the count is checked here)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import insert, text

from digest.content import RenderedEmail
from digest.deliver.ledger import get_or_create_edition
from digest.deliver.ledger.in_flight import in_flight_batches, readers_in
from digest.deliver.plan.readers import already_in, next_chunk
from digest.deliver.plan.rows import store_body
from digest.models import Batch, Delivery, Subscriber
from digest.subscribers.cadence import due_on

from .conftest import postgresql_only

PLANNED = 6000  # readers 1..PLANNED, queued in the edition being planned, 1,000 a batch
PLANNING_DAY, OTHER_DAY = date(2026, 12, 7), date(2026, 12, 6)
AT = datetime(2026, 12, 7, 6, tzinfo=timezone.utc)


def _batch(conn, edition_id: int, number: int, body_id: int, status: str, in_doubt: bool = False) -> int:
    return conn.execute(insert(Batch).values(edition_id=edition_id, number=number, body_id=body_id, status=status,
                                             attempts=0, readers_in_doubt=in_doubt, created_at=AT)
                        .returning(Batch.id)).scalar_one()


def _rows(conn, edition_id: int, rows: list[tuple[int, int, str]]) -> None:
    conn.execute(insert(Delivery), [{"edition_id": edition_id, "subscriber_id": reader, "batch_id": batch,
                                     "status": status, "created_at": AT} for reader, batch, status in rows])


def _ledger(runtime, *, other_in_flight: bool) -> tuple[int, int]:
    """Subscribers 1..PLANNED + 10, all active. The edition being planned: readers
    1..PLANNED queued in pending batches. The other edition (``other_in_flight``): a pending
    batch (readers PLANNED+1, +2), a sending one (+3), a sent one (+4, +5) and a failed one
    with a reader still ambiguous (+6, the batch marked ``readers_in_doubt``; +7 failed in
    it); else only the sent one. Nothing ANALYZEd but ``subscribers`` (as a benchmark's
    seeded list: a ledger just written has no statistics)."""
    with runtime.session() as session:
        planning = get_or_create_edition(session, PLANNING_DAY).id
        other = get_or_create_edition(session, OTHER_DAY).id
        body = store_body(session, RenderedEmail(subject="s", preheader="p", html="<p>h</p>", text="t"))
        session.commit()
    with runtime.engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"id": i, "email": f"r{i}@example.com", "status": "active",
                                           "created_at": AT, "updated_at": AT} for i in range(1, PLANNED + 11)])
        batches = [_batch(conn, planning, n, body, "pending") for n in range(1, PLANNED // 1000 + 1)]
        _rows(conn, planning, [(r, batches[(r - 1) // 1000], "queued") for r in range(1, PLANNED + 1)])
        first = PLANNED
        sent = _batch(conn, other, 3, body, "sent")
        _rows(conn, other, [(first + 4, sent, "sent"), (first + 5, sent, "sent")])
        if other_in_flight:
            pending = _batch(conn, other, 1, body, "pending")
            sending = _batch(conn, other, 2, body, "sending")
            failed = _batch(conn, other, 4, body, "failed", in_doubt=True)
            _rows(conn, other, [(first + 1, pending, "queued"), (first + 2, pending, "queued"),
                                (first + 3, sending, "queued"), (first + 6, failed, "ambiguous"),
                                (first + 7, failed, "failed")])
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE subscribers"))
    return planning, other


def _in_flight(runtime, edition_id: int) -> list[int]:
    with runtime.session() as session:
        return sorted(session.scalars(readers_in(in_flight_batches(session, edition_id))))


def _chunk_ids(runtime, edition_id: int, after: int, size: int) -> list[int]:
    with runtime.session() as session:
        return list(session.scalars(next_chunk(session, edition_id, due_on(PLANNING_DAY), after=after, size=size)))


def test_readers_in_flight_come_from_the_unsettled_batches_of_other_editions(runtime):
    planning, other = _ledger(runtime, other_in_flight=True)
    assert _in_flight(runtime, planning) == [PLANNED + 1, PLANNED + 2, PLANNED + 3, PLANNED + 6]
    assert _in_flight(runtime, other) == list(range(1, PLANNED + 1))
    # A chunk of the edition being planned: neither its own readers nor the other's in flight.
    assert _chunk_ids(runtime, planning, 0, 100) == [PLANNED + 4, PLANNED + 5] + list(range(PLANNED + 7, PLANNED + 11))
    # The other edition (nobody in it yet but those above): the planning edition's readers are in flight.
    assert _chunk_ids(runtime, other, 0, 3) == [PLANNED + 8, PLANNED + 9, PLANNED + 10]


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", ()):
        yield from _plan_nodes(child)


def _chunk_plan(runtime, edition_id: int) -> list[dict]:
    """The nodes of PostgreSQL's plan for a planner's chunk read (as it is built now)."""
    with runtime.session() as session:
        query = next_chunk(session, edition_id, due_on(PLANNING_DAY), after=0, size=20000)
        compiled = query.compile(session.connection(), compile_kwargs={"literal_binds": True})
        (plan,), = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}").one()
    return list(_plan_nodes(plan["Plan"]))


@pytest.fixture
def pg_runtime(runtime):
    return postgresql_only(runtime, "PostgreSQL only: the plans PostgreSQL makes of a chunk's read")


def test_a_chunk_read_asks_nothing_about_deliveries_in_flight_when_no_batch_is(pg_runtime):
    planning, _ = _ledger(pg_runtime, other_in_flight=False)
    assert _chunk_ids(pg_runtime, planning, 0, 100) == list(range(PLANNED + 1, PLANNED + 11))
    on_deliveries = [n for n in _chunk_plan(pg_runtime, planning) if n.get("Relation Name") == "deliveries"]
    # Only the "no row in this edition yet" anti-join's look at the edition's part of the key.
    assert [(n["Node Type"], n.get("Index Name")) for n in on_deliveries] in (
        [("Index Only Scan", "uq_deliveries_edition_id")], [("Bitmap Heap Scan", None)],
        [("Index Scan", "uq_deliveries_edition_id")]), on_deliveries
    assert all("status" not in str(n.get("Filter", "")) for n in on_deliveries), on_deliveries


def test_a_chunk_read_finds_readers_in_flight_by_their_batches(pg_runtime):
    planning, _ = _ledger(pg_runtime, other_in_flight=True)
    nodes = _chunk_plan(pg_runtime, planning)
    in_flight = [n for n in nodes if n.get("Relation Name") == "deliveries" and "status" in str(n.get("Filter", ""))]
    # The 6,000 queued rows of the edition being planned are not read: the other edition's
    # three unsettled batches are looked up in the batch index.
    assert len(in_flight) == 1 and in_flight[0]["Node Type"] in ("Index Scan", "Bitmap Heap Scan"), in_flight
    by_batch = [n for n in _plan_nodes(in_flight[0]) if n.get("Index Name") == "ix_deliveries_batch_id"]
    assert len(by_batch) == 1 and "batch_id = ANY ('{" in by_batch[0]["Index Cond"], by_batch


def test_readers_already_in_the_edition_are_its_rows_of_them(runtime):
    planning, other = _ledger(runtime, other_in_flight=True)
    with runtime.session() as session:
        assert session.scalar(already_in(planning)) == PLANNED
        assert session.scalar(already_in(planning, list(range(PLANNED - 9, PLANNED + 11)))) == 10
        assert session.scalar(already_in(other, list(range(1, PLANNED + 11)))) == 7
        assert session.scalar(already_in(other, [PLANNED + 8, PLANNED + 9])) == 0

