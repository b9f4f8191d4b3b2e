"""A reader erased while a planner writes the ledger keeps no delivery row, whatever the
order (:mod:`digest.deliver.ledger.erasure`: ``deliveries.subscriber_id`` is no foreign
key). Each race is staged for real: two threads on their own connections, ordered by
events, and the wait the lock causes seen in ``pg_stat_activity`` before the first one
goes on. On SQLite one writer holds the database at a time, so the orders a lock must
keep apart cannot happen there; the join is tested on both."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from digest.content import RenderedEmail
from digest.deliver.ledger import get_or_create_edition
from digest.deliver.plan import plan_edition
from digest.deliver.plan.result import PlanSummary, SkipReason
from digest.deliver.plan.rows import insert_deliveries, store_body, write_batches
from digest.deliver.run import EditionRun
from digest.models import Batch, Delivery, DeliveryStatus, Subscriber, utcnow
from digest.subscribers.forget import forget

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, add_subscribers, postgresql_only

SECRET = "test-secret-key-0123456789"
BODY = RenderedEmail(subject="Your digest", preheader="", html="<p>x</p>", text="x")


def _rows(runtime) -> list[tuple[int, str]]:
    with runtime.session() as session:
        return sorted(session.execute(select(Delivery.subscriber_id, Delivery.status)).all())


def _readers(runtime, ids: list[int]) -> list[tuple[int, str, str]]:
    with runtime.session() as session:
        return [(sid, "UTC", email) for sid, email in session.execute(
            select(Subscriber.id, Subscriber.email).where(Subscriber.id.in_(ids)).order_by(Subscriber.id))]


def _erase(runtime, email: str) -> None:
    with runtime.session() as session:
        forget(session, SECRET, email)


def _wait_for_lock_wait(runtime, thread: threading.Thread, what: str) -> None:
    """Until another backend of this database waits for a lock; fails if ``thread``
    finished first (nothing made it wait). Each look in a transaction of its own:
    PostgreSQL reads ``pg_stat_activity`` once per transaction, so looks in one transaction
    all saw the backends as they were at the first (the test failed once when the first
    look came before the other thread reached the lock)."""
    with runtime.engine.connect() as conn:
        for _ in range(600):
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'")).scalar()
            conn.rollback()
            if waiting:
                return
            if not thread.is_alive():
                pytest.fail(f"{what} did not wait")
            time.sleep(0.05)
    pytest.fail(f"{what} never waited")


def _blocked_by_an_uncommitted_erase(runtime, email: str, action, what: str):
    """``action()`` run on a thread of its own while the erase of ``email`` is deleted but
    not committed; seen waiting for the erase's lock, then the erase commits. Returns
    what ``action`` returned."""
    erased, go_on = threading.Event(), threading.Event()

    def erase():
        with runtime.session() as session:
            forget(session, SECRET, email)
            erased.set()  # deleted, not committed
            assert go_on.wait(30)

    eraser = threading.Thread(target=erase)
    eraser.start()
    assert erased.wait(30)
    results = []
    blocked = threading.Thread(target=lambda: results.append(action()))
    blocked.start()
    try:
        _wait_for_lock_wait(runtime, blocked, what)
    finally:
        go_on.set()
        eraser.join()
        blocked.join()
    return results[0]


def test_a_reader_erased_after_planning_read_them_gets_no_row(runtime):
    """Planning reads its readers, the erase of one of them commits, then the plan is
    selected and written: the erased reader gets no row (the INSERT joins subscribers),
    the others all do, and the plan counts them as not written."""
    ids = add_subscribers(runtime, 4)
    erased_email = _readers(runtime, ids)[1][2]
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    read, erased = threading.Event(), threading.Event()
    seen: list[str] = []

    class PausingSelector(FakeSelector):
        def for_subscriber(self, subscriber, edition_date):
            seen.append(subscriber.email)
            if not read.is_set():  # the first chunk is read: let the erase go, then go on
                read.set()
                assert erased.wait(30)
            return super().for_subscriber(subscriber, edition_date)

    def erase():
        assert read.wait(30)
        _erase(runtime, erased_email)
        erased.set()

    eraser = threading.Thread(target=erase)
    eraser.start()
    summary = plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=PausingSelector(),
                           max_recipients=1000)
    eraser.join()
    assert erased.is_set() and erased_email in seen  # planned from a read made before the erase
    assert _rows(runtime) == [(ids[0], "queued"), (ids[2], "queued"), (ids[3], "queued")]
    assert (summary.queued, summary.batches, summary.skipped[SkipReason.ALREADY_SENT]) == (3, 1, 1)


def test_rows_of_readers_no_longer_there_are_not_inserted(runtime):
    """Every INSERT into the ledger goes through insert_deliveries (planned, skipped,
    in-flight and missed-window rows): ids with no subscriber get no row."""
    ids = add_subscribers(runtime, 2)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
        queued = insert_deliveries(session, edition.id, DeliveryStatus.QUEUED, None, utcnow(), [ids[1], 999, ids[0]],
                                   [4, 4, 5])
        skipped = insert_deliveries(session, edition.id, DeliveryStatus.SKIPPED, "in-flight", utcnow(), [998])
        session.commit()
    assert (queued, skipped) == ({4: 1, 5: 1}, {})
    assert _rows(runtime) == [(ids[0], "queued"), (ids[1], "queued")]


def _write(runtime, edition_id: int, readers, done: threading.Event | None = None,
           go_on: threading.Event | None = None) -> PlanSummary:
    """One plan write of ``readers`` in one batch; with events, it signals ``done`` once
    written and commits only after ``go_on``."""
    summary = PlanSummary(edition_id)
    with runtime.session() as session:
        body_id = store_body(session, BODY)
        write_batches(session, edition_id, [(body_id, [sid for sid, _zone, _email in readers])], [], summary)
        if done is not None:
            done.set()
            assert go_on.wait(30)
    return summary


@pytest.fixture
def pg_runtime(runtime):
    return postgresql_only(runtime, "SQLite: one writer at a time (its database lock); no such interleaving")


def test_an_erase_waits_for_a_write_in_flight_then_deletes_its_rows(pg_runtime):
    runtime = pg_runtime
    ids = add_subscribers(runtime, 3)
    readers = _readers(runtime, ids)
    with runtime.session() as session:
        edition_id = get_or_create_edition(session, EDITION).id
    written, erase_waits = threading.Event(), threading.Event()
    writes: list[PlanSummary] = []
    writer = threading.Thread(target=lambda: writes.append(_write(runtime, edition_id, readers, written, erase_waits)))
    writer.start()
    assert written.wait(30)  # rows inserted, not committed
    eraser = threading.Thread(target=_erase, args=(runtime, readers[1][2]))
    eraser.start()
    try:
        _wait_for_lock_wait(runtime, eraser, "the erase")
    finally:
        erase_waits.set()
        writer.join()
        eraser.join()
    assert writes[0].queued == 3  # written before the erase...
    assert _rows(runtime) == [(ids[0], "queued"), (ids[2], "queued")]  # ...and deleted by it


def test_a_write_waits_for_an_erase_in_flight_then_leaves_the_reader_out(pg_runtime):
    runtime = pg_runtime
    ids = add_subscribers(runtime, 3)
    readers = _readers(runtime, ids)  # read before the erase
    with runtime.session() as session:
        edition_id = get_or_create_edition(session, EDITION).id
    write = _blocked_by_an_uncommitted_erase(runtime, readers[1][2], lambda: _write(runtime, edition_id, readers),
                                             "the write")
    assert (write.queued, write.batches, write.skipped[SkipReason.ALREADY_SENT]) == (2, 1, 1)
    assert _rows(runtime) == [(ids[0], "queued"), (ids[2], "queued")]
    with runtime.session() as session:
        assert session.scalar(select(Batch.id).where(Batch.edition_id == edition_id)) is not None


def test_cancelling_waits_for_an_erase_in_flight_then_leaves_the_reader_out(pg_runtime):
    """``digest cancel`` records every active reader not planned as skipped, reading them
    in its INSERT: it too waits for an erase in flight, then no longer finds the reader."""
    from digest.review.controls import cancel

    runtime = pg_runtime
    ids = add_subscribers(runtime, 3)
    readers = _readers(runtime, ids)
    cancelled = _blocked_by_an_uncommitted_erase(runtime, readers[0][2],
                                                 lambda: cancel(runtime, EDITION, by="editor", now=NOW), "the cancel")
    assert cancelled.not_planned == 2
    assert _rows(runtime) == [(ids[1], "skipped"), (ids[2], "skipped")]
