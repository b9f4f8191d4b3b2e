"""Subscribers in eight zones, three simulated days across a DST change, a tick every
few minutes: each gets exactly one digest per local date, at their local hour."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from digest.schedule.due import send_instant

from .helpers import add_subscriber

UTC = timezone.utc
STEP = timedelta(minutes=7)

SCENARIOS = {
    # North America springs forward on 8 March 2026: 02:00 does not exist that day.
    "spring-forward": (date(2026, 3, 7), [
        ("America/New_York", 2), ("America/New_York", 7), ("America/St_Johns", 2),
        ("Asia/Kolkata", 7), ("Europe/London", 7), ("Australia/Sydney", 7),
        ("Pacific/Auckland", 6), ("America/Los_Angeles", 23),
    ]),
    # North America falls back on 1 November 2026: 01:00-02:00 happens twice.
    "fall-back": (date(2026, 10, 31), [
        ("America/New_York", 1), ("America/New_York", 7), ("America/St_Johns", 1),
        ("Asia/Kolkata", 7), ("Europe/London", 0), ("Australia/Sydney", 7),
        ("Pacific/Auckland", 7), ("America/Chicago", 1),
    ]),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_digest_per_local_day_across_dst(sqlite_runtime, make_tick, scenario):
    runtime = sqlite_runtime
    first_day, zones = SCENARIOS[scenario]
    days = [first_day + timedelta(days=i) for i in range(3)]
    created = datetime.combine(first_day - timedelta(days=10), datetime.min.time(), tzinfo=UTC)
    subscribers = {}
    for n, (tz, hour) in enumerate(zones):
        email = f"reader{n}@example.com"
        add_subscriber(runtime, email, tz, hour, created_at=created)
        subscribers[email] = (ZoneInfo(tz), hour)

    # From the first local day's start anywhere on Earth to the last one's end.
    start = datetime.combine(days[0], datetime.min.time(), tzinfo=UTC) - timedelta(hours=14)
    end = datetime.combine(days[-1], datetime.min.time(), tzinfo=UTC) + timedelta(hours=33)
    tick, clock, provider = make_tick(runtime, start)
    while clock.now() < end:
        report = tick.run()
        assert report.failed == 0 and report.ambiguous == 0
        clock.advance(STEP)

    per_edition = Counter((s.email, s.edition_date) for s in provider.sent)
    assert max(per_edition.values()) == 1, [k for k, v in per_edition.items() if v > 1]
    for email, (zone, hour) in subscribers.items():
        for day in days:
            sends = [s for s in provider.sent if s.email == email and s.edition_date == day]
            assert len(sends) == 1, (email, zone.key, hour, day, sends)
            due_at = send_instant(day, hour, zone)
            assert due_at <= sends[0].at < due_at + STEP, (email, zone.key, day, sends[0].at, due_at)
            assert sends[0].at.astimezone(zone).date() == day or hour == 23
