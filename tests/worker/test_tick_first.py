"""A new worker's first tick (issue 23): it knows no send window settled, and the windows
that closed on the local yesterday and today are most of the subscriber table. The readers
due now are planned first; the closed windows are asked about once their batches are
written. And the oldest last digest (where a selector loads content from) is asked once
a tick, not once per plan."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

import digest.schedule.tick as tick_module
from digest.models import Batch, Delivery

from .helpers import add_subscriber
from .test_tick_settled import Statements

UTC = timezone.utc
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
START = datetime(2026, 3, 9, 7, 1, tzinfo=UTC)  # London's 07:00 window is open until 13:00 (6 grace hours)


def _first(statements: list[str], *needles: str) -> int:
    return next(i for i, s in enumerate(statements) if all(n in s for n in needles))


def test_the_first_tick_plans_the_readers_due_before_asking_about_closed_windows(runtime, make_tick):
    for n in range(3):
        add_subscriber(runtime, f"london{n}@example.com", "Europe/London", 7, created_at=LONG_AGO)
    add_subscriber(runtime, "tokyo@example.com", "Asia/Tokyo", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)
    statements = Statements(runtime.engine)
    report = statements.during(tick.run)
    # What it does is unchanged: London's three sent; the 8th of all four and Tokyo's 9th missed.
    assert (report.due, report.sent, report.skipped["missed-send-window"]) == (3, 3, 5)
    assert sorted(s.email for s in provider.sent) == ["london0@example.com", "london1@example.com",
                                                      "london2@example.com"]
    seen = statements.seen
    closed_windows = _first(seen, "FROM subscribers", "subscribers.created_at <=")  # only the closed ones ask it
    assert _first(seen, "INSERT INTO batches") < closed_windows
    assert _first(seen, "INSERT INTO deliveries") < closed_windows
    # The change log's signature is still read once, before any window is looked at.
    signatures = [i for i, s in enumerate(seen) if "FROM schedule_changes" in s]
    assert len(signatures) == 1 and signatures[0] < _first(seen, "FROM subscribers")


def test_the_oldest_last_digest_is_asked_once_a_tick_of_two_plans(runtime, make_tick, monkeypatch):
    monkeypatch.setattr(tick_module, "SLICED_FROM", 1)  # three readers owed: planned as 1, then 2
    monkeypatch.setattr(tick_module, "FIRST_SLICE", 1)
    for n in range(3):
        add_subscriber(runtime, f"london{n}@example.com", "Europe/London", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)
    tick.selector_factory = None  # the real selector, as the worker's
    statements = Statements(runtime.engine)
    report = statements.during(tick.run)
    assert report.due == 3 and report.skipped["no-new-items"] == 3  # no content seeded: nothing new for anyone
    oldest = [s for s in statements.seen if "min(subscribers.last_digest_at)" in s]
    assert len(oldest) == 1
    clock.advance(timedelta(days=1))  # the next day's tick asks again: last digests have moved
    statements.during(tick.run)
    assert len([s for s in statements.seen if "min(subscribers.last_digest_at)" in s]) == 1


def test_the_newest_windows_are_planned_before_the_older_open_ones(runtime, make_tick):
    """A worker that was down: London's 05:00 window (open until 11:00) and its 07:00 one are
    both owed at 07:01. The 07:00 readers are found and planned first (batch 1), those of the
    window opened two hours ago after (batch 2); both sent, once."""
    late = add_subscriber(runtime, "london5@example.com", "Europe/London", 5, created_at=LONG_AGO)
    now = add_subscriber(runtime, "london7@example.com", "Europe/London", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)
    report = tick.run()
    assert (report.due, report.sent, report.batches) == (2, 2, 2)
    with runtime.session() as session:
        numbers = dict(session.execute(select(Delivery.subscriber_id, Batch.number)
                                       .join(Batch, Batch.id == Delivery.batch_id)).all())
    assert numbers == {now: 1, late: 2}
    clock.advance(timedelta(minutes=1))
    assert tick.run().sent == 0
    assert sorted(s.email for s in provider.sent) == ["london5@example.com", "london7@example.com"]
