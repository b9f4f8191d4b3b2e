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


def test_status_counts_daily_weekly_and_paused_readers_with_their_next_sends(runtime):
    from datetime import date

    from digest.models import Subscriber
    from digest.subscribers.cadence import Cadence, apply_cadence

    now = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # a Wednesday; New York is on EDT since the 8th

    def reader(email, tz, hour, cadence=Cadence(), *, status="active", paused_until=None):
        sid = add_subscriber(runtime, email, tz, hour)
        with runtime.session() as session:
            row = session.get(Subscriber, sid)
            apply_cadence(row, cadence, now)
            row.status = status
            if paused_until is not None:  # a pause that has ended
                row.paused_until = paused_until

    reader("d1@example.com", "UTC", 7)                   # next: tomorrow 07:00Z (today's has passed)
    reader("d2@example.com", "America/New_York", 12)     # today 12:00 EDT = 16:00Z
    reader("d3@example.com", "UTC", 7, paused_until=date(2026, 3, 1))  # paused once: daily again
    reader("d4@example.com", "Asia/Tokyo", 9)            # tomorrow 09:00 JST = 00:00Z on the 12th
    reader("w1@example.com", "Europe/London", 7, Cadence("weekly", "mon"))  # Monday 16th 07:00 GMT
    reader("w2@example.com", "Asia/Tokyo", 9, Cadence("weekly", "fri"))     # Friday 13th 09:00 JST = 00:00Z
    reader("p1@example.com", "UTC", 7, Cadence(paused_until=date(2026, 3, 20)))  # back on the 20th
    reader("pending@example.com", "UTC", 7, status="pending")
    reader("gone@example.com", "UTC", 7, Cadence("weekly", "thu"), status="unsubscribed")

    lock = DatabaseLock(runtime, "dyno-worker.1:42:777", clock=FakeClock(now))
    lines = format_status(collect_status(runtime, lock, now)).splitlines()
    start = lines.index("readers (active): daily=4 weekly=2 paused=1")
    assert lines[start:start + 4] == [
        "readers (active): daily=4 weekly=2 paused=1",
        "  next daily send:          2026-03-11 16:00:00Z",
        "  next weekly send:         2026-03-13 00:00:00Z",
        "  first back from a pause:  2026-03-20 07:00:00Z",
    ]
