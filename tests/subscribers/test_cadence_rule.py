"""The cadence rule by hand: who is due on a local date, the first due date, and where
the first digest after a pause starts its window (set with the pause, or by "resume now")."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from digest.models import Subscriber
from digest.subscribers.cadence import Cadence, apply_cadence, first_due_date, is_due_on, parse_cadence

UTC = timezone.utc


def reader(cadence: Cadence, tz="Europe/London", hour=7) -> Subscriber:
    row = Subscriber(email="r@example.com", timezone=tz, send_hour=hour)
    row.frequency, row.weekday, row.paused_until = cadence.frequency, cadence.weekday, cadence.paused_until
    return row


@pytest.mark.parametrize("cadence, day, due", [
    (Cadence(), date(2027, 3, 17), True),
    (Cadence("weekly", "wed"), date(2027, 3, 17), True),    # a Wednesday
    (Cadence("weekly", "wed"), date(2027, 3, 18), False),
    (Cadence(paused_until=date(2027, 3, 18)), date(2027, 3, 17), False),
    (Cadence(paused_until=date(2027, 3, 18)), date(2027, 3, 18), True),  # the date itself: back
    (Cadence("weekly", "thu", date(2027, 3, 18)), date(2027, 3, 18), True),
    (Cadence("weekly", "wed", date(2027, 3, 18)), date(2027, 3, 24), True),
])
def test_is_due_on(cadence, day, due):
    assert is_due_on(reader(cadence), day) is due


def test_first_due_date():
    assert first_due_date(Cadence("weekly", "mon", date(2027, 3, 24)), date(2027, 3, 10)) == date(2027, 3, 29)
    assert first_due_date(Cadence(paused_until=date(2027, 3, 24)), date(2027, 3, 10)) == date(2027, 3, 24)
    assert first_due_date(Cadence("weekly", "wed"), date(2027, 3, 17)) == date(2027, 3, 17)


def test_the_window_after_a_pause_and_after_resume_now():
    row = reader(Cadence())
    # Paused on Wednesday 10 March until Wednesday 31 March (after London's change on the 28th):
    # the window starts at the regular send the day before, 30 March 07:00 BST = 06:00 UTC.
    apply_cadence(row, Cadence(paused_until=date(2027, 3, 31)), datetime(2027, 3, 10, 12, tzinfo=UTC))
    assert (row.paused_until, row.resume_window_start) == (date(2027, 3, 31), datetime(2027, 3, 30, 6, tzinfo=UTC))
    # Weekly on Fridays, same pause: first Friday from the 31st is 2 April; a week before,
    # 26 March 07:00 GMT.
    apply_cadence(row, Cadence("weekly", "fri", date(2027, 3, 31)), datetime(2027, 3, 10, 12, tzinfo=UTC))
    assert row.resume_window_start == datetime(2027, 3, 26, 7, tzinfo=UTC)
    # "Resume now" on Tuesday 16 March at noon: from today, the first Friday is the 19th;
    # a week before, 12 March 07:00 GMT.
    apply_cadence(row, Cadence("weekly", "fri"), datetime(2027, 3, 16, 12, tzinfo=UTC))
    assert (row.paused_until, row.resume_window_start) == (None, datetime(2027, 3, 12, 7, tzinfo=UTC))
    # A pause date that is not after the reader's local today pauses nothing.
    apply_cadence(row, Cadence(paused_until=date(2027, 3, 16)), datetime(2027, 3, 16, 12, tzinfo=UTC))
    assert row.paused_until is None and row.weekday is None


def test_parse_cadence_accepts_names_and_refuses_the_rest():
    assert parse_cadence("Weekly", "Sunday", " 2027-01-02 ") == Cadence("weekly", "sun", date(2027, 1, 2))
    assert parse_cadence("", "", "") == Cadence()
    assert parse_cadence("daily", "mon", None) == Cadence()  # a weekday means nothing to a daily reader
