"""A real ``digest worker`` process: SIGTERM mid-edition exits 0 within 25 s, and the
next start finishes the edition with no duplicate. ``digest status`` reports it."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from digest.models import BatchStatus, DeliveryStatus
from digest.runtime import Runtime

from fakes.fixtures import fake_sendgrid  # noqa: F401  (fixture)
from .helpers import add_briefings, add_subscriber, write_config
from .processes import Ledger, WorkerProcess, wait_for, worker_env

SUBSCRIBERS = 36
SHUTDOWN_PROMISE = 25  # seconds: the requirement, not a measurement


@pytest.fixture
def edition_db(db_url, make_settings, tmp_path):
    """A database (SQLite, then PostgreSQL) whose subscribers are all due now, in six
    distinct topic sets (so six bodies and six batches), and the config the worker runs with."""
    config = write_config(tmp_path / "digest.toml")
    rt = Runtime.open(make_settings(db_url, DIGEST_CONFIG=str(config)))
    slugs = rt.settings.config.topic_slugs
    topic_sets = list(itertools.islice(itertools.combinations(slugs, 2), 6))
    hour = (datetime.now(timezone.utc) - timedelta(hours=1)).hour  # passed: due now
    for n in range(SUBSCRIBERS):
        add_subscriber(rt, f"reader{n:03d}@example.org", "UTC", hour, topics=topic_sets[n % 6])
    add_briefings(rt, datetime.now(timezone.utc) - timedelta(hours=2))
    rt.close()
    return db_url, config


def test_sigterm_mid_edition_then_restart_finishes_without_duplicates(edition_db, fake_sendgrid, tmp_path):
    url, config = edition_db
    env = worker_env(tmp_path, url, config, fake_sendgrid.url)
    ledger = Ledger(url)
    fake_sendgrid.delay_next(1.0, times=3)  # slow provider: the edition is in progress for seconds

    first = WorkerProcess(env, tmp_path / "worker-1.log")
    try:
        wait_for(lambda: fake_sendgrid.attempts >= 2, 60, "the worker to be sending its second batch")
        status = first.terminate_and_wait(timeout=SHUTDOWN_PROMISE)
        assert status == 0, f"exit status {status}\n{first.log()}"
    finally:
        first.kill()
    batches = ledger.batches()
    assert batches[BatchStatus.PENDING] >= 1, (batches, "SIGTERM came too late to be mid-edition")
    assert batches[BatchStatus.SENT] >= 1
    assert "shutdown requested" in first.log()

    second = WorkerProcess(env, tmp_path / "worker-2.log")
    try:
        wait_for(lambda: not (ledger.batches()[BatchStatus.PENDING] or ledger.batches()[BatchStatus.SENDING]),
                 60, "the restarted worker to finish the edition")
        assert second.terminate_and_wait(timeout=SHUTDOWN_PROMISE) == 0, second.log()
    finally:
        second.kill()

    counts = fake_sendgrid.delivery_counts()
    assert len(counts) == SUBSCRIBERS and set(counts.values()) == {1}, counts
    assert ledger.deliveries() == {DeliveryStatus.SENT: SUBSCRIBERS}
    assert set(ledger.batches()) == {BatchStatus.SENT}
    assert "tick: due=" in second.log()

    out = subprocess.run([sys.executable, "-c", "import sys; from digest.cli import main; sys.exit(main())",
                          "status"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "scheduler lock: free" in out.stdout  # released on the way out
    assert f"deliveries: queued=0 sent={SUBSCRIBERS}" in out.stdout
    assert "batches:    pending=0 sending=0 sent=6 failed=0 ambiguous=0" in out.stdout
    assert "delivery tick (every minute)" in out.stdout
    ledger.close()


def test_standby_takes_over_when_the_scheduler_is_killed(edition_db, fake_sendgrid, tmp_path):
    """A second worker does not schedule while the first holds the lock; after the first
    is SIGKILLed it takes over once the lease runs out (a short lease here; with the
    default 45 s lease and 10 s retries that is under a minute)."""
    url, config = edition_db
    env = worker_env(tmp_path, url, config, fake_sendgrid.url)
    ledger = Ledger(url)
    first = WorkerProcess(env, tmp_path / "first.log", "--lock-ttl", "4")
    second = None
    try:
        wait_for(lambda: "scheduler lock acquired" in first.log(), 60, "the first worker to take the lock")
        second = WorkerProcess(env, tmp_path / "second.log", "--lock-ttl", "4")
        wait_for(lambda: "consumes jobs only" in second.log(), 60, "the second worker to stand by")
        first.proc.kill()
        first.proc.wait(timeout=30)
        wait_for(lambda: "scheduler lock acquired" in second.log(), 60, "the standby to take over")
        wait_for(lambda: ledger.deliveries()[DeliveryStatus.SENT] + ledger.deliveries()[DeliveryStatus.AMBIGUOUS]
                 == SUBSCRIBERS and not ledger.batches()[BatchStatus.SENDING], 60, "the edition to settle")
        assert second.terminate_and_wait(timeout=SHUTDOWN_PROMISE) == 0, second.log()
    finally:
        first.kill()
        if second is not None:
            second.kill()
        ledger.close()
    assert max(fake_sendgrid.delivery_counts().values()) == 1
