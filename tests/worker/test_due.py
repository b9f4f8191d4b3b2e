"""The clock arithmetic of who is due: one send instant per local date, across DST."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fakes.clock import FakeClock
from digest.schedule.due import find_due, publishes_on, send_instant
from digest.settings import Schedule

from .helpers import add_subscriber, with_schedule

NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_send_hour_that_does_not_exist_resolves_to_just_after_the_gap():
    # 2026-03-08: New York jumps from 02:00 EST to 03:00 EDT; 02:00 never happens.
    instant = send_instant(date(2026, 3, 8), 2, NY)
    assert instant == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert instant.astimezone(NY).date() == date(2026, 3, 8)


def test_send_hour_that_happens_twice_resolves_to_its_first_occurrence():
    # 2026-11-01: 01:00-02:00 happens first in EDT, then again in EST.
    instant = send_instant(date(2026, 11, 1), 1, NY)
    assert instant == utc(2026, 11, 1, 5, 0)  # 01:00 EDT
    assert send_instant(date(2026, 11, 2), 1, NY) == utc(2026, 11, 2, 6, 0)  # 01:00 EST


def test_half_hour_and_non_dst_zones():
    assert send_instant(date(2026, 3, 9), 7, ZoneInfo("America/St_Johns")) == utc(2026, 3, 9, 9, 30)
    assert send_instant(date(2026, 3, 9), 7, ZoneInfo("Asia/Kolkata")) == utc(2026, 3, 9, 1, 30)


def test_publication_calendar():
    schedule = Schedule(skip_weekdays=("sat", "sun"), holidays=(date(2026, 12, 25),))
    assert publishes_on(date(2026, 12, 24), schedule)  # Thursday
    assert not publishes_on(date(2026, 12, 25), schedule)  # holiday
    assert not publishes_on(date(2026, 12, 26), schedule)  # Saturday


def test_due_only_after_local_send_time_and_within_grace(runtime):
    rt = with_schedule(runtime, grace_hours=2)
    sub = add_subscriber(rt, "a@example.com", "Asia/Kolkata", 7, created_at=utc(2026, 1, 1))
    with rt.sessions() as session:
        before = find_due(session, rt.settings.config.schedule, utc(2026, 3, 9, 1, 29))
        at = find_due(session, rt.settings.config.schedule, utc(2026, 3, 9, 1, 30))
        late = find_due(session, rt.settings.config.schedule, utc(2026, 3, 9, 3, 31))
    # Just before 07:00 IST on the 9th, the 8th's window (closed at 09:30 IST) is missed.
    assert before.due == {}
    assert before.missed == {date(2026, 3, 8): [sub]}
    assert at.due == {date(2026, 3, 9): [sub]}
    assert late.due == {} and late.missed == {date(2026, 3, 8): [sub], date(2026, 3, 9): [sub]}


def test_late_send_hour_window_reaches_past_local_midnight(runtime):
    rt = with_schedule(runtime, grace_hours=6)
    sub = add_subscriber(rt, "b@example.com", "Europe/London", 23)
    with rt.sessions() as session:
        owed = find_due(session, rt.settings.config.schedule, utc(2026, 3, 10, 1, 0))
    assert owed.due == {date(2026, 3, 9): [sub]}


def test_no_missed_row_for_a_window_that_closed_before_subscribing(runtime):
    rt = with_schedule(runtime, grace_hours=1)
    add_subscriber(rt, "c@example.com", "UTC", 7, created_at=utc(2026, 3, 9, 12, 0))
    with rt.sessions() as session:
        owed = find_due(session, rt.settings.config.schedule, utc(2026, 3, 9, 13, 0))
    assert owed.due == {} and owed.missed == {}


def test_skipped_weekday_is_neither_due_nor_missed(runtime):
    rt = with_schedule(runtime, skip_weekdays=("mon",))
    add_subscriber(rt, "d@example.com", "UTC", 7, created_at=utc(2026, 1, 1))
    with rt.sessions() as session:
        owed = find_due(session, rt.settings.config.schedule, utc(2026, 3, 9, 8, 0))  # a Monday
    assert owed.due == {}
    assert date(2026, 3, 9) not in owed.missed


def test_fake_clock_refuses_naive_times():
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 3, 9))
    clock = FakeClock(utc(2026, 3, 9))
    assert clock.advance(timedelta(minutes=5)) == utc(2026, 3, 9, 0, 5)
