"""``benchmarks/tick.py`` walks a day through the worker's own tick: at a small N on
PostgreSQL, every reader is owed exactly one digest in the 24 hours after the steady state
it starts from, so the walk must give each exactly one ledger row, send what it planned to
the sink, and find nobody due in any of its 48 between-hours ticks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from digest.models import Base
from digest.runtime import Runtime
from digest.schedule.worker import Worker
from digest.settings import load_settings
from fakes.benchmarks import load_benchmark
from fakes.clock import FakeClock

READERS = 96  # 4 in each of the 24 zones, at 4 of the 12 send hours



@pytest.mark.postgres
def test_a_walked_day_sends_each_reader_once(postgres_url):
    bench = load_benchmark("tick")
    engine = create_engine(postgres_url)
    with engine.begin() as conn:  # the session's PostgreSQL database, emptied
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
                          + " RESTART IDENTITY CASCADE"))
    sink = bench.edition.Sink()
    try:
        env = bench.edition.environment(postgres_url, sink.url) | {"DIGEST_RENDER_PROCESSES": "0"}
        runtime = Runtime.open(load_settings(env))
        bench.seed(runtime, READERS)
        before = bench.settle_before(runtime, bench.START - timedelta(seconds=30))
        worker = Worker(runtime, clock=FakeClock(bench.START))
        try:
            idle, hours = bench.walk(worker, worker.clock, sink, 24)
        finally:
            worker.provider.close()
            runtime.close()
        received = sink.stats()
    finally:
        sink.stop()

    assert before > 0  # the walk starts from a ledger that already has yesterday's sends
    assert len(hours) == 24 and len(idle) == 48  # no between-hours tick found anyone due
    assert sum(f["due"] for f in hours) == READERS
    planned = sum(f["planned"] for f in hours)
    sent = sum(f["sent"] for f in hours)
    assert planned == sent == received["personalizations"]
    with engine.connect() as conn:  # rows the walk wrote (the steady state's are stamped 9 March)
        per_reader = conn.execute(text(
            "SELECT subscriber_id, count(*) FROM deliveries WHERE created_at > '2026-03-10' GROUP BY subscriber_id"
        )).all()
        queued = conn.execute(text("SELECT count(*) FROM deliveries WHERE status = 'queued'")).scalar()
    engine.dispose()
    assert sorted(per_reader) == [(sid, 1) for sid in range(1, READERS + 1)]
    assert queued == 0
