"""``digest status``: editions, batch states, next runs, the lock holder."""

from __future__ import annotations

from datetime import datetime, timezone

from click.testing import CliRunner

from fakes.clock import FakeClock
from digest.schedule.lock import DatabaseLock
from digest.schedule.status import collect_status, format_status

from .helpers import add_subscriber

UTC = timezone.utc


def test_status_shows_editions_batches_next_runs_and_lock_holder(runtime, make_tick):
    for n in range(3):
        add_subscriber(runtime, f"r{n}@example.com", "UTC", 7, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    now = datetime(2026, 3, 9, 7, 30, 20, tzinfo=UTC)
    tick, clock, _ = make_tick(runtime, now)
    tick.run()
    lock = DatabaseLock(runtime, "dyno-worker.1:42:777", clock=FakeClock(now))
    assert lock.acquire()

    text = format_status(collect_status(runtime, lock, now))
    assert "scheduler lock: held by dyno-worker.1:42:777" in text
    assert "edition 2026-03-09 (daily)" in text
    assert "batches:    pending=0 sending=0 sent=1 failed=0 ambiguous=0" in text
    assert "deliveries: queued=0 sent=3" in text
    assert "2026-03-09 07:31:00Z  delivery tick (every minute)" in text
    assert "2026-03-09 07:30:30Z  recover stale batches" in text
    runs = [line for line in text.splitlines() if line.startswith("  2026-")]
    assert runs == sorted(runs), "next runs are listed soonest first"
    assert "skipped:    missed-send-window=3" in text  # the 8th, which nobody was up to send


def test_status_command_without_a_worker(sqlite_url, monkeypatch, tmp_path):
    from digest.cli import main

    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": sqlite_url, "DIGEST_SECRET_KEY": "x" * 20, "REDIS_URL": ""}
    result = CliRunner().invoke(main, ["status"], env=env)
    assert result.exit_code == 0, result.output
    assert "scheduler lock: free (no worker is scheduling)" in result.output
    assert "editions: none from yesterday to tomorrow" in result.output
