"""A sending process keeps one database connection per sending thread: none is opened
per batch (PostgreSQL starts a backend for every new connection; a managed one adds TLS)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from digest.deliver.run import EditionRun
from digest.deliver.batch import Sender, send_batch
from digest.deliver.ledger.connection import ThreadLedgers
from digest.deliver.ledger import get_or_create_edition, pending_batch_ids
from digest.deliver.plan import plan_edition
from digest.deliver.runners import GivenBatches
from digest.deliver.runners.in_process import ThreadRunner
from digest.runtime import OTHER_CONNECTIONS, Runtime, pool_size

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, RecordingProvider, add_subscribers


class SlowProvider(RecordingProvider):
    """Answers after 30 ms, as a real API takes a while: the eight threads overlap."""

    def send(self, batch):
        time.sleep(0.03)
        return super().send(batch)


def test_eight_sending_threads_reuse_their_connections_chunk_after_chunk(db_url, make_settings):
    settings = make_settings(db_url, DIGEST_SEND_CONCURRENCY="8")
    assert pool_size(settings) == 8 + OTHER_CONNECTIONS
    runtime = Runtime.open(settings)
    try:
        add_subscribers(runtime, 640, topics=("gold",))
        with runtime.session() as session:
            edition = get_or_create_edition(session, EDITION)
        plan_edition(runtime, edition, EditionRun(NOW), selector=FakeSelector(), renderer=CountingRenderer(), max_recipients=4)
        with runtime.session() as session:
            batch_ids = pending_batch_ids(session, edition.id)
        opened = []
        event.listen(runtime.engine, "connect", lambda *_: opened.append(1))
        runner, sent = ThreadRunner(Sender.open(runtime, SlowProvider()), 8), 0
        # As a send worker process gets them: chunks of 32, eight threads each.
        for start in range(0, len(batch_ids), 32):
            runner.start(GivenBatches(batch_ids[start:start + 32]))
            sent += sum(o.sent for o in runner.outcomes())
    finally:
        runtime.close()
    assert len(batch_ids) == 160 and sent == 640
    # At most one per thread holding one at once. With SQLAlchemy's default pool of 5, a
    # connection returned beyond the five idle ones was closed: each chunk opened them again.
    assert len(opened) <= 8


def _planned(runtime, readers: int, per_batch: int) -> list[int]:
    add_subscribers(runtime, readers, topics=("gold",))
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), selector=FakeSelector(), renderer=CountingRenderer(),
                 max_recipients=per_batch)
    with runtime.session() as session:
        return pending_batch_ids(session, edition.id)


def test_a_sending_thread_keeps_its_connection_from_batch_to_batch(runtime):
    """Each thread takes a connection from the pool once for all its batches (each
    checkout cost the pool's ping, a round trip), and every one goes back when the
    runner is done."""
    batch_ids = _planned(runtime, 60, 3)
    checkouts, checkins = [], []
    event.listen(runtime.engine.pool, "checkout", lambda *_: checkouts.append(1))
    event.listen(runtime.engine.pool, "checkin", lambda *_: checkins.append(1))
    runner = ThreadRunner(Sender.open(runtime, SlowProvider()), 2)
    runner.start(GivenBatches(batch_ids))
    sent = sum(o.sent for o in runner.outcomes())
    assert (len(batch_ids), sent) == (20, 60)
    assert len(checkouts) == 2 and len(checkins) == 2  # one per thread; before: one per batch (20)


class FailsOneSettlementMidway:
    """The first settlement fails on a statement of its own (not a lost connection): its
    transaction is left open, and aborted, on the thread's connection."""

    def __init__(self, settle):
        self.settle, self.failed = settle, False

    def __call__(self, conn, batch_id, *args, **kwargs):
        if not self.failed:
            self.failed = True
            conn.execute(text("SELECT * FROM no_such_table"))
        return self.settle(conn, batch_id, *args, **kwargs)


def test_a_step_that_failed_leaves_nothing_open_for_the_thread_s_next_batch(runtime, monkeypatch):
    from digest.deliver import batch as batch_module

    first, second = _planned(runtime, 6, 3)
    monkeypatch.setattr(batch_module, "settle_batch", FailsOneSettlementMidway(batch_module.settle_batch))
    sender, ledgers = Sender.open(runtime, RecordingProvider()), ThreadLedgers(runtime.engine)
    ledger = ledgers.for_this_thread()
    try:
        with pytest.raises(DBAPIError, match="no_such_table"):
            send_batch(sender, first, ledger)
        assert ledgers.for_this_thread() is ledger and not ledger.connection.in_transaction()
        outcome = send_batch(sender, second, ledger)  # on the same connection
    finally:
        ledgers.close()
    assert (outcome.status, outcome.sent) == ("sent", 3)
