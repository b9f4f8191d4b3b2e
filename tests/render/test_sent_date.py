"""The date in an email's heading is its reader's own date when it is sent: a Sunday
morning email in Sydney says Sunday's date even though the edition (and Toronto) is
still on Saturday. The heading is a date token filled per batch, or per reader where the
batch's zones disagree (digest.deliver.dates), like every other date of the body."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from digest.content import fill_tokens
from digest.date_tokens import SENT_DATE
from digest.deliver.dates import dated_for_zones
from digest.message import build_message

from .factories import sample_edition

#: Saturday 5 Dec 2026, 21:00 UTC: 08:00 on Sunday 6 Dec in Sydney (UTC+11), 16:00 on
#: Saturday in Toronto (UTC-5).
SENT = datetime(2026, 12, 5, 21, 0, tzinfo=timezone.utc)
#: The masthead's date line (the first date followed by a link: the video lines come later).
HEADING = re.compile(r">(\d{1,2} [A-Z][a-z]{2} \d{4}) · <a ")


@pytest.fixture(scope="module")
def body(renderer):
    return renderer.render(sample_edition())


def test_the_heading_is_a_sent_date_token_until_sent(body):
    assert body.html.count(SENT_DATE) == 1 and body.text.count(SENT_DATE) == 1
    assert body.text.splitlines()[1] == SENT_DATE


def test_each_reader_of_a_batch_sees_their_own_date(body, token_values):
    dated = dated_for_zones(body, {"Australia/Sydney", "America/Toronto"}, SENT)
    seen = {}
    for zone in ("Australia/Sydney", "America/Toronto"):
        values = dict(token_values) | dict(dated.values_for(zone))
        html = fill_tokens(dated.body.html, values)
        text = fill_tokens(dated.body.text, values)
        seen[zone] = (HEADING.findall(html)[:1], text.splitlines()[1])
    assert seen == {
        "Australia/Sydney": (["6 Dec 2026"], "6 Dec 2026"),
        "America/Toronto": (["5 Dec 2026"], "5 Dec 2026"),
    }


def test_a_batch_in_one_zone_gets_the_date_written_in(body):
    dated = dated_for_zones(body, {"Australia/Sydney"}, SENT)
    assert HEADING.findall(dated.body.html)[:1] == ["6 Dec 2026"]
    assert dict(dated.values_for("Australia/Sydney")) == {}


def test_previews_and_proofs_date_it_when_asked(body):
    assert HEADING.findall(body.dated("Australia/Sydney", SENT).html)[:1] == ["6 Dec 2026"]
    assert HEADING.findall(body.dated("America/Los_Angeles", SENT).html)[:1] == ["5 Dec 2026"]


def test_an_undated_body_never_leaves(body, config, token_values):
    with pytest.raises(ValueError, match="date tokens not filled"):
        build_message(body, config=config, to="reader@example.com", tokens=token_values)
