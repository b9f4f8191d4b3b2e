"""The edition benchmark measures the code ``digest send`` runs, not a copy of it.

Three identical small databases (the benchmark's own dataset; SQLite, then PostgreSQL): one sent by
``digest send`` (the CLI, clock pinned to the dataset's), one by the benchmark's
``run_edition``, one by ``run_edition`` with batches sent concurrently. Each goes to its
own validating fake SendGrid. The requests and the ledgers must be the same.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.cli import send_commands
from digest.deliver.providers.factory import make_provider
from digest.models import Batch, Delivery, RenderedBody
from digest.runtime import Runtime
from digest.settings import load_settings
from fakes.benchmarks import load_benchmark
from fakes.sendgrid_server import FakeSendGrid

SUBSCRIBERS = 120



bench = load_benchmark("edition")
dataset = bench.dataset


@pytest.fixture
def seeded(databases):
    """A factory of identical seeded databases (SQLite, then PostgreSQL, where the
    benchmark runs)."""
    template = databases.empty("seeded")
    bench.seed(template, SUBSCRIBERS)
    return lambda name: databases.copy(template, name)


def _requests(fake: FakeSendGrid) -> list[dict]:
    """The requests as sent, in a fixed order: batches go out on several threads, so the
    order they arrive in is not the same from run to run (it once differed here)."""
    return sorted(json.loads(json.dumps(fake.requests)), key=lambda r: json.dumps(r, sort_keys=True))


def _messages(fake: FakeSendGrid) -> list[tuple]:
    return sorted((m.to, m.subject, m.text, m.html, sorted(m.headers.items()), sorted(m.custom_args.items()))
                  for m in fake.delivered)


def _unnumbered(items):
    """Requests or messages with their batch's id and their archive link (signed over the
    body's id) left out, in a fixed order. When renders run in worker processes, a body
    whose render finished before an earlier reader's body was stored (and its batch written
    and numbered) first: the bodies and batches are the same, their ids and numbers may not
    be (this comparison once failed on them, with every request otherwise equal). The
    sequential runs are compared with both."""
    def unnumbered(item):
        text = json.dumps(item, sort_keys=True, default=list)
        text = re.sub(r'"batch_id"(: |, )"\d+"', r'"batch_id"\1"-"', text)
        return re.sub(r'/archive/[A-Za-z0-9_.-]+', '/archive/-', text)
    return sorted(map(unnumbered, items))


def _ledger(database_url: str, *, numbered: bool = True) -> list[tuple]:
    """Each delivery row: subscriber, status, skip reason, its batch's number (or, not
    ``numbered``, the first subscriber of its batch: the same grouping, whatever the numbers)
    and status, and the body's fingerprint."""
    runtime = Runtime.open(load_settings(bench.environment(database_url, "http://127.0.0.1:9")))
    try:
        with runtime.session() as session:
            rows = session.execute(
                select(Delivery.subscriber_id, Delivery.status, Delivery.skip_reason, Batch.number, Batch.status,
                       RenderedBody.fingerprint, Delivery.batch_id)
                .outerjoin(Batch, Batch.id == Delivery.batch_id)
                .outerjoin(RenderedBody, RenderedBody.id == Batch.body_id)
            ).all()
    finally:
        runtime.close()
    first_reader: dict = {}
    for row in rows:
        if row.batch_id is not None:
            first_reader[row.batch_id] = min(first_reader.get(row.batch_id, row.subscriber_id), row.subscriber_id)
    return sorted(((*row[:3], row[3] if numbered else first_reader.get(row.batch_id), *row[4:6]) for row in rows),
                  key=repr)


def _send_with_benchmark(database_url: str, fake: FakeSendGrid, concurrency: str = "1", processes: str = "1"):
    env = bench.environment(database_url, fake.url) | {
        "DIGEST_SEND_CONCURRENCY": concurrency, "DIGEST_SEND_PROCESSES": processes,
        "DIGEST_RENDER_PROCESSES": "0" if processes == "1" else processes,
        "DIGEST_READERS_PER_SEND_PROCESS": "1"}  # with processes > 1: worker processes however few readers
    settings = load_settings(env)
    runtime = Runtime.open(settings)
    try:
        clock = bench.StageClock()
        summary = bench.run_edition(runtime, make_provider(settings), progress=clock)
        # The progress total is this run's batches, each counted once (with worker processes,
        # some were already sending when planning ended).
        assert clock.batches == sum(summary.batches.values()) > 0
    finally:
        runtime.close()
    return summary


def _send_with_cli(database_url: str, fake: FakeSendGrid, monkeypatch) -> str:
    class PinnedClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return dataset.NOW if tz is None or tz is timezone.utc else dataset.NOW.astimezone(tz)

    monkeypatch.setattr(send_commands, "datetime", PinnedClock)
    for name, value in bench.environment(database_url, fake.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DIGEST_SEND_CONCURRENCY", "1")
    monkeypatch.setenv("DIGEST_SEND_PROCESSES", "1")
    result = CliRunner().invoke(main, ["send", "--date", dataset.EDITION_DATE.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_benchmark_calls_what_digest_send_calls():
    assert bench.send_edition is send_commands.send_edition


def test_benchmark_edition_sends_the_requests_and_ledger_of_digest_send(seeded, monkeypatch):
    from digest.deliver import edition

    cli_db, bench_db, concurrent_db = seeded("cli"), seeded("bench"), seeded("concurrent")
    with FakeSendGrid(api_key=bench.API_KEY) as by_cli, FakeSendGrid(api_key=bench.API_KEY) as by_bench, \
            FakeSendGrid(api_key=bench.API_KEY) as by_threads:
        output = _send_with_cli(cli_db, by_cli, monkeypatch)
        summary = _send_with_benchmark(bench_db, by_bench)
        # A big edition (worker processes for sending): every render in the two render
        # worker processes, from the first one on; batches sent from two
        # worker processes, four threads each.
        threaded = _send_with_benchmark(concurrent_db, by_threads, concurrency="4", processes="2")

    assert "sent" in output and summary.sent == threaded.sent == SUBSCRIBERS
    assert summary.bodies_rendered > 10  # several distinct selections, each rendered once
    assert threaded.bodies_rendered == summary.bodies_rendered and threaded.render_seconds > 0
    assert len(by_cli.delivered) == SUBSCRIBERS
    # Same requests, byte for byte once decoded, in the same order.
    assert _requests(by_bench) == _requests(by_cli)
    # Concurrent sending, pooled rendering: the same requests, in whatever order they went,
    # and numbered in whatever order the renders finished (see _unnumbered).
    assert _unnumbered(_requests(by_threads)) == _unnumbered(_requests(by_cli))
    # Every subscriber got the same message (tokens filled) through all three.
    assert _messages(by_bench) == _messages(by_cli)
    assert _unnumbered(_messages(by_threads)) == _unnumbered(_messages(by_cli))
    assert _ledger(bench_db) == _ledger(cli_db)
    assert _ledger(concurrent_db, numbered=False) == _ledger(cli_db, numbered=False)
    # The pooled run's batches were claimed by worker processes, each under its own identity.
    claimants = {c.rsplit(":", 2)[1] for c in _claimants(concurrent_db)}
    assert str(os.getpid()) not in claimants and 1 <= len(claimants) <= 2
    assert {c.rsplit(":", 2)[1] for c in _claimants(bench_db)} == {str(os.getpid())}


def _claimants(database_url: str) -> set[str]:
    runtime = Runtime.open(load_settings(bench.environment(database_url, "http://127.0.0.1:9")))
    try:
        with runtime.session() as session:
            return set(session.scalars(select(Batch.claimed_by)))
    finally:
        runtime.close()


# ------------------------------------------------------------------ what the benchmark refuses and reports


@pytest.mark.parametrize("url", [None, "", "sqlite:///bench.db"])
def test_the_benchmark_refuses_sqlite_unless_allowed(url, capsys):
    with pytest.raises(SystemExit) as refused:
        bench.database_choice(url, allow_sqlite=False)
    assert refused.value.code == 2
    assert "--allow-sqlite" in capsys.readouterr().err
    assert bench.database_choice(url, allow_sqlite=True) == url


def test_the_benchmark_takes_postgresql():
    for url in ("postgresql+psycopg://postgres@127.0.0.1:5432/bench", "postgres://u:p@db.example:5432/bench"):
        assert bench.database_choice(url, allow_sqlite=False) == url


def test_the_tree_peak_counts_child_processes():
    """A child holding 64 MiB: the tree's RSS is at least the parent's plus that."""
    import subprocess
    import time

    import psutil

    tree_rss = sys.modules["tree_rss"]  # loaded by the benchmark module
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; block = bytearray(64 * 2**20); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        me = psutil.Process()
        own = me.memory_info().rss
        rss, pss, count = tree_rss.tree_memory(me)
        assert count >= 2
        assert rss - own >= 64 * 2**20 and pss >= 64 * 2**20
        peak = tree_rss.TreePeak(os.getpid(), interval=0.01).start()
        while peak.peak_bytes == 0:
            time.sleep(0.01)
        peak_rss, peak_pss = peak.stop()
        assert peak_rss * 2**20 >= own + 64 * 2**20 - 2**20  # (the parent may have shrunk a little)
        assert peak_pss * 2**20 >= 64 * 2**20
    finally:
        child.stdin.close()
        child.wait(timeout=30)
