"""A batch's dated body made by splitting each text at its dates and joining it again
(:func:`digest.date_tokens.split_dates`): the same bytes as filling each date through a
regular expression's callback, without Python work per date in the text."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

from digest.content import RenderedEmail
from digest.date_tokens import SENT_DATE, split_dates
from digest.deliver.dates import dated_for_zones

NOW = datetime(2026, 11, 26, 9, 0, 30, tzinfo=timezone.utc)  # the sending minute: 26 Nov in every zone below
ZONES = {"Europe/London", "Asia/Kolkata", "America/New_York"}
EARLY, MORNING, LATE = "202611260200", "202611260900", "202611262330"  # 25 Nov in New York; alike; 27 Nov in Kolkata


def token(stamp: str) -> str:
    return f"%%date:{stamp}%%"


def test_a_batch_copy_is_the_text_with_each_date_filled_in_place():
    body = RenderedEmail(
        subject=f"Digest {SENT_DATE}",
        preheader="no dates",
        # a date first, two dates touching, a date last
        html=f"{token(LATE)}<p>x</p>{token(MORNING)}{token(LATE)}",
        # eleven digits are no date; "%%" in a feed's text is content
        text=f"a %%date:20261126090%% b 100%% sure {token(EARLY)}",
        tokens=frozenset({"unsubscribe_url"}),
    )
    dated = dated_for_zones(body, ZONES, NOW)
    # Stamps in order: EARLY splits the zones (date_1), MORNING and the sent minute
    # (09:00) are 26 Nov everywhere (written in), LATE splits them another way (date_2).
    assert dated.body == RenderedEmail(
        subject="Digest 26 Nov 2026",
        preheader="no dates",
        html="%%date_2%%<p>x</p>26 Nov 2026%%date_2%%",
        text="a %%date:20261126090%% b 100%% sure %%date_1%%",
        tokens=frozenset({"unsubscribe_url", "date_1", "date_2"}),
    )
    assert dated.values == {
        "America/New_York": {"date_1": "25 Nov 2026", "date_2": "26 Nov 2026"},
        "Asia/Kolkata": {"date_1": "26 Nov 2026", "date_2": "27 Nov 2026"},
        "Europe/London": {"date_1": "26 Nov 2026", "date_2": "26 Nov 2026"},
    }


def test_split_dates_gives_the_literal_pieces_and_the_stamps():
    assert split_dates("no dates") == ["no dates"]
    assert split_dates(f"{token(LATE)}a{token(EARLY)}{token(LATE)}") == ["", LATE, "a", EARLY, "", LATE, ""]
    assert split_dates("%%date:20261126090%%") == ["%%date:20261126090%%"]


def python_calls(work) -> int:
    """How many Python function calls ``work()`` makes."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        work()
    finally:
        sys.setprofile(None)
    return calls


def test_dating_does_no_python_work_per_date_in_the_text():
    # A body's html repeats its few dozen dates over some 70,000 characters: each date in
    # the text is filled in C (split, join), only each distinct stamp costs Python calls.
    def body(repeats: int) -> RenderedEmail:
        dates = "<td>" + "</td><td>".join([token(EARLY), token(LATE)] * repeats) + "</td>"
        return RenderedEmail(f"Digest {SENT_DATE}", "pre", dates, dates)

    few, many = body(2), body(200)
    dated_for_zones(few, ZONES, NOW)  # labels cached, as in a running sender
    assert python_calls(lambda: dated_for_zones(many, ZONES, NOW)) == \
        python_calls(lambda: dated_for_zones(few, ZONES, NOW))
