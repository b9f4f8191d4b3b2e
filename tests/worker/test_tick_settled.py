"""A tick with nobody due asks the ledger nothing (issue 23), yet misses no one who becomes
owed: a signup, a reader moving into an open window, a ledger row removed, a resubscribe.
Each change is logged by the database's triggers (``schedule_changes``), whoever writes it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from digest.deliver.ledger import find_edition
from digest.deliver.plan.render_failures import RENDER_FAILED, forget_render_failures
from digest.models import Delivery, DeliveryStatus, ScheduleChange

from digest.select import SelectionBlocked
from fakes.statements import Statements as Recorded

from .helpers import AlwaysSomethingSelector, add_subscriber

UTC = timezone.utc
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
START = datetime(2026, 3, 9, 7, 1, tzinfo=UTC)  # London's 07:00 window is open until 13:00 (6 grace hours)


class Statements:
    """The SQL the engine runs while recording (also on the driver's own cursor)."""

    def __init__(self, engine):
        self.engine = engine
        self.seen: list[str] = []

    def during(self, run):
        with Recorded(self.engine) as recorded:
            result = run()
        self.seen = [" ".join(statement.split()) for statement in recorded.statements]
        return result


def _reads(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if f"FROM {table} " in f"{s} " or f"JOIN {table} " in s]


def _emails(provider) -> list[str]:
    return sorted(s.email for s in provider.sent)


@pytest.fixture
def settled_tick(runtime, make_tick):
    """Three London readers at 07:00, sent by the first tick, and one in Tokyo, whose 07:00
    window of the 9th closed at 04:00 UTC; the first tick records five missed windows (the
    8th of all four, Tokyo's 9th), the second finds nobody and remembers every window."""
    for n in range(3):
        add_subscriber(runtime, f"london{n}@example.com", "Europe/London", 7, created_at=LONG_AGO)
    add_subscriber(runtime, "tokyo@example.com", "Asia/Tokyo", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)
    first = tick.run()
    assert first.sent == 3 and first.skipped["missed-send-window"] == 5
    clock.advance(timedelta(minutes=1))
    second = tick.run()  # finds nobody: every window is remembered as settled
    assert (second.due, second.sent, second.skipped) == (0, 0, {})
    return tick, clock, provider


def test_an_idle_tick_reads_neither_subscribers_nor_the_ledger(runtime, settled_tick):
    tick, clock, provider = settled_tick
    statements = Statements(runtime.engine)
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        report = statements.during(tick.run)
        assert (report.due, report.sent, report.skipped) == (0, 0, {})
        assert _reads(statements.seen, "subscribers") == [] and _reads(statements.seen, "deliveries") == []
        assert len(_reads(statements.seen, "schedule_changes")) == 1  # the change log's signature
    assert _emails(provider) == ["london0@example.com", "london1@example.com", "london2@example.com"]


def test_the_tick_after_planning_an_hour_asks_nothing_when_everyone_got_a_row(runtime, make_tick):
    for n in range(3):
        add_subscriber(runtime, f"london{n}@example.com", "Europe/London", 7, created_at=LONG_AGO)
    add_subscriber(runtime, "tokyo@example.com", "Asia/Tokyo", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)
    assert tick.run().sent == 3
    statements = Statements(runtime.engine)
    clock.advance(timedelta(minutes=1))
    report = statements.during(tick.run)
    assert (report.due, report.sent, report.skipped) == (0, 0, {})
    assert _reads(statements.seen, "subscribers") == [] and _reads(statements.seen, "deliveries") == []


def test_a_reader_left_without_a_row_keeps_the_window_open(runtime, make_tick):
    class BlockingOne(AlwaysSomethingSelector):
        def for_subscriber(self, subscriber, edition_date):
            if subscriber.email == "blocked@example.com":
                raise SelectionBlocked(())
            return super().for_subscriber(subscriber, edition_date)

    add_subscriber(runtime, "fine@example.com", "Europe/London", 7, created_at=LONG_AGO)
    add_subscriber(runtime, "blocked@example.com", "Europe/London", 7, created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, START)
    tick.selector_factory = lambda session, now: BlockingOne()
    first = tick.run()
    assert (first.due, first.sent, first.skipped["blocked"]) == (2, 1, 1)
    for _ in range(2):  # asked again every tick, as before: nothing settled while a reader has no row
        clock.advance(timedelta(minutes=1))
        again = tick.run()
        assert (again.due, again.sent, again.skipped["blocked"]) == (1, 0, 1)
    tick.selector_factory = lambda session, now: AlwaysSomethingSelector()  # the disclosure was added
    clock.advance(timedelta(minutes=1))
    assert tick.run().sent == 1
    assert _emails(provider) == ["blocked@example.com", "fine@example.com"]


def test_a_signup_into_an_open_window_is_sent_at_the_next_tick(runtime, settled_tick):
    tick, clock, provider = settled_tick
    add_subscriber(runtime, "new@example.com", "Europe/London", 7)
    clock.advance(timedelta(minutes=1))
    report = tick.run()
    assert (report.due, report.sent) == (1, 1)
    assert "new@example.com" in _emails(provider) and len(provider.sent) == 4


def test_a_reader_moving_into_an_open_window_by_plain_sql_is_sent(runtime, settled_tick):
    tick, clock, provider = settled_tick
    later = add_subscriber(runtime, "later@example.com", "Europe/London", 20, created_at=LONG_AGO)
    clock.advance(timedelta(minutes=1))
    assert tick.run().due == 0  # 20:00 is hours away
    with runtime.engine.begin() as conn:  # not through our models: the trigger still logs it
        conn.execute(text("UPDATE subscribers SET send_hour = 7 WHERE id = :id"), {"id": later})
    clock.advance(timedelta(minutes=1))
    report = tick.run()
    assert (report.due, report.sent) == (1, 1)
    assert provider.sent[-1].email == "later@example.com"


def test_a_resubscribed_reader_is_sent(runtime, settled_tick):
    tick, clock, provider = settled_tick
    gone = add_subscriber(runtime, "back@example.com", "Europe/London", 7, created_at=LONG_AGO)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE subscribers SET status = 'unsubscribed' WHERE id = :id"), {"id": gone})
    clock.advance(timedelta(minutes=1))
    assert tick.run().due == 0
    clock.advance(timedelta(minutes=1))
    assert tick.run().due == 0  # settled again, with the reader away
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE subscribers SET status = 'active' WHERE id = :id"), {"id": gone})
    clock.advance(timedelta(minutes=1))
    report = tick.run()
    assert (report.due, report.sent) == (1, 1)
    assert provider.sent[-1].email == "back@example.com"


def test_a_paused_reader_resumed_by_plain_sql_is_sent(runtime, settled_tick):
    tick, clock, provider = settled_tick
    paused = add_subscriber(runtime, "paused@example.com", "Europe/London", 7, created_at=LONG_AGO)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE subscribers SET paused_until = :until WHERE id = :id"),
                     {"until": START.date() + timedelta(days=30), "id": paused})
    for _ in range(2):  # the second tick has every window settled again, the reader paused
        clock.advance(timedelta(minutes=1))
        assert tick.run().due == 0
    with runtime.engine.begin() as conn:  # "resume now" (cadence's column, logged like the others)
        conn.execute(text("UPDATE subscribers SET paused_until = NULL WHERE id = :id"), {"id": paused})
    clock.advance(timedelta(minutes=1))
    report = tick.run()
    assert (report.due, report.sent) == (1, 1)
    assert provider.sent[-1].email == "paused@example.com"


def test_readers_whose_ledger_rows_are_forgotten_are_planned_again(runtime, settled_tick):
    tick, clock, provider = settled_tick
    with runtime.session() as session:  # two London readers' email had failed to render
        edition = find_edition(session, START.date())
        rows = session.scalars(select(Delivery).where(Delivery.edition_id == edition.id,
                                                      Delivery.status == DeliveryStatus.SENT).order_by(Delivery.id)).all()
        for row in rows[:2]:
            row.status, row.skip_reason, row.batch_id = DeliveryStatus.SKIPPED, RENDER_FAILED, None
        session.commit()
        clock.advance(timedelta(minutes=1))
        assert tick.run().due == 0
        assert forget_render_failures(session, edition.id) == 2
    clock.advance(timedelta(minutes=1))
    report = tick.run()
    assert (report.due, report.sent) == (2, 2)


def test_every_change_is_logged_once_per_statement_on_postgresql(runtime):
    """One row per statement on PostgreSQL (an import of many readers logs one); SQLite
    keeps only the newest row, its id growing."""
    with runtime.engine.begin() as conn:
        before = conn.execute(select(ScheduleChange.id)).scalars().all()
        conn.execute(text("INSERT INTO subscribers (email, status, timezone, send_hour, created_at, updated_at) "
                          "VALUES ('a@example.com', 'active', 'UTC', 7, :t, :t), "
                          "('b@example.com', 'active', 'UTC', 7, :t, :t)"), {"t": LONG_AGO})
        conn.execute(text("UPDATE subscribers SET last_digest_at = :t"), {"t": LONG_AGO})  # not a schedule change
        after = conn.execute(select(ScheduleChange.id)).scalars().all()
    if runtime.engine.dialect.name == "postgresql":
        assert len(after) == len(before) + 1
    else:
        assert len(after) == 1 and after[0] > max(before, default=0)
