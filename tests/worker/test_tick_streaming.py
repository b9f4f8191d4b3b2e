"""The tick of a zone's hour starts sending before its plan is done (issue 23): the first
slice of the hour's readers is planned, committed and sent while the rest is planned; and
the tick's readers with a delivery in flight in another edition are skipped, only they."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone

from sqlalchemy import func, select

from digest.models import Batch, Delivery, DeliveryStatus, Edition, RenderedBody
from digest.schedule import tick as tick_module

from .helpers import AlwaysSomethingSelector, add_subscriber

UTC = timezone.utc
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
START = datetime(2026, 3, 9, 7, 1, tzinfo=UTC)  # London's 07:00 window of the 9th is open


def _rows(runtime, day: date) -> list[tuple[str, str, str | None]]:
    from digest.models import Subscriber

    with runtime.sessions() as session:
        return sorted(session.execute(
            select(Subscriber.email, Delivery.status, Delivery.skip_reason)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .join(Edition, Edition.id == Delivery.edition_id).where(Edition.date == day)).all())


def test_the_first_readers_are_sent_while_the_rest_are_planned(runtime, make_tick, monkeypatch):
    monkeypatch.setattr(tick_module, "SLICED_FROM", 5)
    monkeypatch.setattr(tick_module, "FIRST_SLICE", 2)
    emails = [f"r{n}@example.com" for n in range(6)]
    for email in emails:
        add_subscriber(runtime, email, "Europe/London", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)
    first_sent = threading.Event()
    in_time: list[bool] = []  # for each reader of the second slice: the first had gone out

    class WaitingSelector(AlwaysSomethingSelector):
        """Selects the second slice's readers only once the first slice has gone out (or
        gives up after 10 s): without sending while planning goes on, it would give up."""

        def for_subscriber(self, subscriber, edition_date):
            if subscriber.email not in emails[:2]:
                in_time.append(first_sent.wait(timeout=10))
            return super().for_subscriber(subscriber, edition_date)

    class SignallingProvider(type(provider)):
        def send(self, batch):
            result = super().send(batch)
            first_sent.set()
            return result

    provider.__class__ = SignallingProvider
    tick.selector_factory = lambda session, now: WaitingSelector()

    report = tick.run()

    assert in_time == [True] * 4, "the rest was planned before anyone was sent"
    sent = [s.email for s in provider.sent]
    assert sorted(sent[:2]) == emails[:2], "the first slice was sent first"
    assert sorted(sent) == emails
    assert (report.due, report.planned, report.sent, report.batches) == (6, 6, 6, 2)
    assert _rows(runtime, date(2026, 3, 9)) == [(e, DeliveryStatus.SENT, None) for e in emails]
    clock.set(START.replace(minute=2))
    again = tick.run()  # every window of the hour is settled: nobody due, nothing sent twice
    assert (again.due, again.sent, len(provider.sent)) == (0, 0, 6)


def test_only_the_ticks_readers_in_flight_elsewhere_are_skipped(runtime, make_tick):
    ids = {email: add_subscriber(runtime, email, zone, 7, created_at=LONG_AGO) for email, zone in [
        ("a@example.com", "Europe/London"), ("b@example.com", "Europe/London"), ("c@example.com", "Europe/London"),
        ("ny@example.com", "America/New_York")]}  # New York's 07:00 (12:00 UTC) is not due at 07:01
    with runtime.session() as session:  # a and ny are ambiguous in the edition of the 8th
        body = RenderedBody(fingerprint="0" * 64, subject="s", html="<p>h</p>", text="t")
        edition = Edition(date=date(2026, 3, 8))
        session.add_all([body, edition])
        session.flush()
        batch = Batch(edition_id=edition.id, number=1, body_id=body.id, status="ambiguous")
        session.add(batch)
        session.flush()
        session.add_all([Delivery(edition_id=edition.id, subscriber_id=ids[email], batch_id=batch.id,
                                  status=DeliveryStatus.AMBIGUOUS, email=email) for email in ("a@example.com", "ny@example.com")])
    tick, clock, provider = make_tick(runtime, START)

    report = tick.run()

    assert sorted(s.email for s in provider.sent) == ["b@example.com", "c@example.com"]
    assert (report.due, report.planned, report.skipped["in-flight"]) == (3, 2, 1)
    assert _rows(runtime, date(2026, 3, 9)) == [
        ("a@example.com", DeliveryStatus.SKIPPED, "in-flight"),
        ("b@example.com", DeliveryStatus.SENT, None), ("c@example.com", DeliveryStatus.SENT, None)]


def test_the_readers_last_digest_is_recorded_when_the_tick_has_sent(runtime, make_tick):
    """Not left to the next hour's plan, where it would come before that hour's first batch."""
    from digest.models import Subscriber

    for n in range(3):
        add_subscriber(runtime, f"r{n}@example.com", "Europe/London", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)
    assert tick.run().sent == 3
    with runtime.sessions() as session:
        pairs = session.execute(select(Subscriber.last_digest_at, Delivery.sent_at)
                                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                                .where(Delivery.status == DeliveryStatus.SENT)).all()
        recorded = session.scalars(select(Batch.readers_recorded)).all()
    assert len(pairs) == 3 and all(sent is not None and last == sent for last, sent in pairs)
    assert recorded == [True]


def test_a_days_first_slice_is_planned_before_the_hours_other_local_date(runtime, make_tick, monkeypatch):
    """At 07:01 UTC, London's 07:00 readers are owed the 9th's edition and Honolulu's 21:00
    readers the 8th's: one hour, two local dates. The 8th is the smaller (planned whole,
    every render before its first batch) and came first, so the first request waited for
    its whole plan; the 9th's first slice is now planned (and sent) before it."""
    monkeypatch.setattr(tick_module, "SLICED_FROM", 3)
    monkeypatch.setattr(tick_module, "FIRST_SLICE", 1)
    london = [add_subscriber(runtime, f"london{n}@example.com", "Europe/London", 7, created_at=LONG_AGO)
              for n in range(4)]
    for n in range(2):
        add_subscriber(runtime, f"honolulu{n}@example.com", "Pacific/Honolulu", 21, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)

    report = tick.run()

    with runtime.sessions() as session:
        batches = session.execute(select(Batch.id, Edition.date, Batch.number, func.count(Delivery.id))
                                  .join(Edition, Edition.id == Batch.edition_id)
                                  .join(Delivery, Delivery.batch_id == Batch.id)
                                  .group_by(Batch.id, Edition.date, Batch.number).order_by(Batch.id)).all()
        first_batch = session.scalars(select(Delivery.subscriber_id).where(Delivery.batch_id == batches[0][0])).all()
    assert [(day, number, readers) for _, day, number, readers in batches] == [
        (date(2026, 3, 9), 1, 1), (date(2026, 3, 8), 1, 2), (date(2026, 3, 9), 2, 3)]
    assert first_batch == [london[0]]
    assert (report.due, report.planned, report.sent, report.batches) == (6, 6, 6, 3)
    sent_on_the_8th = {e for e, status, _ in _rows(runtime, date(2026, 3, 8)) if status == DeliveryStatus.SENT}
    assert sent_on_the_8th == {"honolulu0@example.com", "honolulu1@example.com"}
    clock.set(START.replace(minute=2))
    again = tick.run()  # both days' windows are settled: nobody due, nothing sent twice
    assert (again.due, again.sent, len(provider.sent)) == (0, 0, 6)
