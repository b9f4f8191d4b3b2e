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
#: Ticks on a quarter-hour grid from a whole hour: every send instant below (whole and
#: half hours) is a tick, so each digest must go out at exactly its instant.
STEP = timedelta(minutes=15)


def at(day: int, month: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# (zone, send hour, [the UTC send instant on each of the three local days]), worked out by
# hand from the zones' offsets; a skipped hour resolves with the offset before the gap
# (02:00 on 8 March in New York: 07:00 UTC, i.e. 03:00 EDT), a repeated one to its first
# occurrence (01:00 on 1 November in New York: EDT, 05:00 UTC).
SCENARIOS = {
    # North America springs forward on 8 March 2026 (02:00 local does not exist); London,
    # Sydney and Auckland do not change that week; Kolkata never does.
    "spring-forward": (date(2026, 3, 7), [
        ("America/New_York", 2, [at(7, 3, 7), at(8, 3, 7), at(9, 3, 6)]),            # EST -5, gap, EDT -4
        ("America/New_York", 7, [at(7, 3, 12), at(8, 3, 11), at(9, 3, 11)]),
        ("America/St_Johns", 2, [at(7, 3, 5, 30), at(8, 3, 5, 30), at(9, 3, 4, 30)]),  # -3:30, gap, -2:30
        ("Asia/Kolkata", 7, [at(7, 3, 1, 30), at(8, 3, 1, 30), at(9, 3, 1, 30)]),      # +5:30
        ("Europe/London", 7, [at(7, 3, 7), at(8, 3, 7), at(9, 3, 7)]),                 # GMT
        ("Australia/Sydney", 7, [at(6, 3, 20), at(7, 3, 20), at(8, 3, 20)]),           # AEDT +11: the day before
        ("Pacific/Auckland", 6, [at(6, 3, 17), at(7, 3, 17), at(8, 3, 17)]),           # NZDT +13
        ("America/Los_Angeles", 23, [at(8, 3, 7), at(9, 3, 6), at(10, 3, 6)]),         # PST -8, then PDT -7
    ]),
    # North America falls back on 1 November 2026 (01:00-02:00 happens twice); London
    # already did on 25 October, Sydney and Auckland are on summer time.
    "fall-back": (date(2026, 10, 31), [
        ("America/New_York", 1, [at(31, 10, 5), at(1, 11, 5), at(2, 11, 6)]),        # EDT -4, first 01:00, EST -5
        ("America/New_York", 7, [at(31, 10, 11), at(1, 11, 12), at(2, 11, 12)]),
        ("America/St_Johns", 1, [at(31, 10, 3, 30), at(1, 11, 3, 30), at(2, 11, 4, 30)]),  # -2:30, first, -3:30
        ("Asia/Kolkata", 7, [at(31, 10, 1, 30), at(1, 11, 1, 30), at(2, 11, 1, 30)]),
        ("Europe/London", 0, [at(31, 10, 0), at(1, 11, 0), at(2, 11, 0)]),
        ("Australia/Sydney", 7, [at(30, 10, 20), at(31, 10, 20), at(1, 11, 20)]),
        ("Pacific/Auckland", 7, [at(30, 10, 18), at(31, 10, 18), at(1, 11, 18)]),
        ("America/Chicago", 1, [at(31, 10, 6), at(1, 11, 6), at(2, 11, 7)]),           # CDT -5, first, CST -6
    ]),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_digest_per_local_day_across_dst(runtime, make_tick, scenario):
    first_day, zones = SCENARIOS[scenario]
    days = [first_day + timedelta(days=i) for i in range(3)]
    created = datetime.combine(first_day - timedelta(days=10), datetime.min.time(), tzinfo=UTC)
    subscribers = {}
    for n, (tz, hour, instants) in enumerate(zones):
        email = f"reader{n}@example.com"
        add_subscriber(runtime, email, tz, hour, created_at=created)
        subscribers[email] = (ZoneInfo(tz), hour, instants)

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
    # The simulated window also reaches days before the first (owed at the first tick) and,
    # for zones ahead of UTC, the day after the last.
    others = {s.edition_date for s in provider.sent} - set(days)
    assert all(d < days[0] or d == days[-1] + timedelta(days=1) for d in others), others
    for email, (zone, hour, instants) in subscribers.items():
        sent = [(s.edition_date, s.at) for s in provider.sent if s.email == email and s.edition_date in days]
        assert sent == list(zip(days, instants)), (email, zone.key, hour, sent)
        # The code's own answer agrees with the hand-made one.
        assert [send_instant(day, hour, zone) for day in days] == instants
