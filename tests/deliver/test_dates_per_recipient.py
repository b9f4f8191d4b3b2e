"""``dated_for_zones``: a batch's copy of a body, for readers in several zones.

Dates every zone of the batch shows alike are written in; the others become per-recipient
``%%date_N%%`` tokens, one per distinct pattern of labels, so a reader's values stay a
few short strings; each reader's message, once their tokens are filled, is exactly the
body dated in their own zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from digest.content import RenderedEmail, fill_tokens
from digest.date_tokens import date_token
from digest.deliver.dates import dated_for_zones

UTC = timezone.utc
LATE = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # 26 Nov in London, 27 Nov in Kolkata
LATER = datetime(2026, 11, 26, 23, 50, tzinfo=UTC)  # the same split as LATE
MORNING = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # 26 Nov in both
EARLY = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 25 Nov in New York, 26 Nov in London and Kolkata
ZONES = ("Europe/London", "Asia/Kolkata", "America/New_York")


def body(*moments: datetime) -> RenderedEmail:
    dates = " | ".join(date_token(m) for m in moments)
    return RenderedEmail(f"Digest {date_token(MORNING)}", "pre", f"<p>{dates}</p><a href='%%unsubscribe_url%%'>u</a>",
                         f"{dates}\n%%unsubscribe_url%%\n", frozenset({"unsubscribe_url"}))


def test_each_reader_gets_the_body_dated_in_their_zone():
    rendered = body(LATE, MORNING, LATER, EARLY)
    dated = dated_for_zones(rendered, ZONES)
    assert "%%date:" not in dated.body.subject + dated.body.html + dated.body.text
    for zone in ZONES:
        values = {"unsubscribe_url": "https://u"} | dict(dated.values_for(zone))
        expected = rendered.dated(zone)
        assert fill_tokens(dated.body.html, values) == fill_tokens(expected.html, values)
        assert fill_tokens(dated.body.text, values) == fill_tokens(expected.text, values)
        assert fill_tokens(dated.body.subject, values) == expected.subject


def test_dates_the_zones_agree_on_are_written_in_and_alike_dates_share_a_token():
    dated = dated_for_zones(body(LATE, MORNING, LATER, EARLY), ZONES)
    # MORNING is 26 Nov everywhere: written in (subject and body). LATE and LATER split the
    # zones the same way: one token. EARLY splits them another way: a second token (tokens
    # are numbered in date order).
    assert dated.body.subject == "Digest 26 Nov 2026"
    assert dated.body.text.startswith("%%date_2%% | 26 Nov 2026 | %%date_2%% | %%date_1%%\n")
    assert dated.body.tokens == {"unsubscribe_url", "date_1", "date_2"}
    assert dict(dated.values_for("Asia/Kolkata")) == {"date_1": "26 Nov 2026", "date_2": "27 Nov 2026"}
    assert dict(dated.values_for("America/New_York")) == {"date_1": "25 Nov 2026", "date_2": "26 Nov 2026"}


def test_one_zone_or_agreeing_zones_need_no_token():
    rendered = body(LATE, MORNING, EARLY)
    for zones in (["Asia/Kolkata"], ["Europe/London", "Europe/Lisbon"]):
        dated = dated_for_zones(rendered, zones)
        assert "%%date" not in dated.body.html + dated.body.text
        assert dated.body == rendered.dated(zones[0])
        assert all(not values for values in dated.values.values())


def test_a_day_of_news_across_many_zones_needs_few_tokens():
    moments = [MORNING + timedelta(minutes=17 * n) for n in range(80)]  # ~23 hours of items
    zones = ["Pacific/Kiritimati", "Asia/Tokyo", "Asia/Kolkata", "Europe/London", "America/St_Johns",
             "America/New_York", "America/Los_Angeles", "Pacific/Honolulu"]
    dated = dated_for_zones(body(*moments), zones)
    slots = dated.body.tokens - {"unsubscribe_url"}
    assert 1 <= len(slots) <= len(zones) + 1  # a token per way the zones split, not per date
    for zone in zones:
        assert fill_tokens(dated.body.text, {"unsubscribe_url": "u"} | dict(dated.values_for(zone))) == \
            fill_tokens(body(*moments).dated(zone).text, {"unsubscribe_url": "u"})
