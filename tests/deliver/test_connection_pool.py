"""A sending process keeps one database connection per sending thread: none is opened
per batch (PostgreSQL starts a backend for every new connection; a managed one adds TLS)."""

from __future__ import annotations

import time

from sqlalchemy import event

from digest.deliver.run import EditionRun
from digest.deliver.batch import Sender
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
