"""The delivery tick against the ledger: catch-up after downtime, missed windows,
repeated and overlapping ticks."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from digest.deliver.batch import Sender
from digest.deliver.runners.in_process import InlineRunner
from digest.models import Delivery, DeliveryStatus
from digest.schedule.due import MISSED_SEND_WINDOW

from .helpers import ClockedProvider, add_subscriber, with_schedule

UTC = timezone.utc
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def test_worker_down_at_send_time_catches_up_within_grace_and_skips_the_rest(runtime, make_tick):
    rt = with_schedule(runtime, grace_hours=3)
    owed = add_subscriber(rt, "owed@example.com", "UTC", 7, created_at=LONG_AGO)
    too_late = add_subscriber(rt, "late@example.com", "UTC", 5, created_at=LONG_AGO)
    # The worker was down from 04:00 and comes back at 09:30.
    tick, clock, provider = make_tick(rt, datetime(2026, 3, 9, 9, 30, tzinfo=UTC))
    report = tick.run()
    assert [s.email for s in provider.sent] == ["owed@example.com"]
    assert report.due == 1 and report.sent == 1
    # Missed: both readers' 8 March (07:00 and 05:00 + 3 h, long gone) and late's 9 March
    # (05:00 + 3 h = 08:00, before 09:30); owed's 9 March (until 10:00) is sent.
    assert report.skipped[MISSED_SEND_WINDOW] == 3
    assert MISSED_SEND_WINDOW in report.log_line()
    with rt.sessions() as session:
        rows = {(d.subscriber_id, d.status, d.skip_reason) for d in session.scalars(select(Delivery))
                if d.edition_id and d.subscriber_id in (owed, too_late)}
    assert (owed, DeliveryStatus.SENT, None) in rows
    assert (too_late, DeliveryStatus.SKIPPED, MISSED_SEND_WINDOW) in rows

    clock.advance(timedelta(hours=1))
    again = tick.run()
    assert len(provider.sent) == 1
    assert again.due == 0 and again.sent == 0 and not again.skipped


def test_repeated_tick_sends_nothing_twice(runtime, make_tick):
    for n in range(5):
        add_subscriber(runtime, f"r{n}@example.com", "Asia/Kolkata", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, datetime(2026, 3, 9, 2, 0, tzinfo=UTC))
    first = tick.run()
    second = tick.run()
    clock.advance(timedelta(minutes=1))
    third = tick.run()
    assert first.sent == 5
    assert second.sent == third.sent == 0 and second.due == third.due == 0
    assert sorted(Counter(s.email for s in provider.sent).values()) == [1] * 5


def test_overlapping_ticks_in_two_workers_send_each_subscriber_once(runtime, make_tick):
    for n in range(40):
        add_subscriber(runtime, f"r{n}@example.com", "Europe/London", 7, created_at=LONG_AGO)
    start = datetime(2026, 3, 9, 7, 1, tzinfo=UTC)

    barrier = threading.Barrier(2)
    met: list[str] = []  # the workers whose first batch waited at the barrier for the other's

    class GatedProvider(ClockedProvider):
        """Holds each worker's first batch until the other worker is sending too, so the
        ticks overlap; the test fails unless they did."""

        def __init__(self, *args, worker: str, **kwargs):
            super().__init__(*args, **kwargs)
            self.worker = worker

        def send(self, batch):
            if not self.sent:
                barrier.wait(timeout=30)  # broken (raises) if the other never sends
                met.append(self.worker)
            return super().send(batch)

    ticks = []
    for worker in ("host:1:a", "host:2:b"):
        tick, clock, _ = make_tick(runtime, start, worker_id=worker)
        tick.runner = InlineRunner(Sender.open(runtime, GatedProvider(clock, max_recipients=10, worker=worker), worker))
        tick.max_recipients = 10
        ticks.append(tick)
    errors = []

    def run(tick):
        try:
            tick.run()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in ticks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(met) == ["host:1:a", "host:2:b"], "the two ticks never sent at the same time"
    sent = [s.email for t in ticks for s in t.runner.sender.provider.sent]
    assert all(t.runner.sender.provider.sent for t in ticks), "each worker sent batches of the edition"
    assert len(sent) == 40 and len(set(sent)) == 40
    with runtime.sessions() as session:
        statuses = Counter(session.scalars(select(Delivery.status).where(Delivery.skip_reason.is_(None))))
    assert statuses == {DeliveryStatus.SENT: 40}


def test_no_edition_on_a_holiday(runtime, make_tick):
    rt = with_schedule(runtime, holidays=(date(2026, 3, 9),))
    add_subscriber(rt, "h@example.com", "UTC", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(rt, datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    report = tick.run()
    assert provider.sent == [] and report.due == 0
    clock.set(datetime(2026, 3, 10, 8, 0, tzinfo=UTC))
    tick.run()
    assert [(s.email, s.edition_date) for s in provider.sent] == [("h@example.com", date(2026, 3, 10))]


def test_worker_ingest_job_reads_the_configured_sources(runtime):
    from digest.models import Briefing
    from digest.schedule.worker import Worker

    worker = Worker(runtime)  # the bundled config's sources are the sample folders
    worker._ingest()
    with runtime.sessions() as session:
        assert session.scalars(select(Briefing.id)).first() is not None
