"""Feed dates through feedparser with python-dateutil registered (digest.ingest.dates).

The handler runs before feedparser's own parsers, so feedparser's own date test cases
(tests/fixtures/feeds/feedparser/date-cases.json, from its test suite) must come out of
the whole chain as feedparser's authors expect; and the formats real feeds use that
feedparser misses must now parse.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape

import feedparser
import pytest

from digest.ingest import dates
from digest.ingest.feeds import parse_feed

from .feed_server import FIXTURES

CASES = json.loads((FIXTURES / "feedparser" / "date-cases.json").read_text(encoding="utf-8"))
#: Read wrongly by feedparser's own chain whether or not ours is registered (another of its
#: parsers answers first); ours must leave them alone.
NOT_OURS = {
    "2004-j\u00falius-13T9:15-05:00",
    "2004-05-25 \uc624\ud6c4 11:23:17",
    "2004\ub144 05\uc6d4 28\uc77c  01:31:15",
}


def _published(text: str):
    """``text`` as an RSS pubDate, through feedparser's public parse."""
    feed = feedparser.parse(
        f"<rss version='2.0'><channel><item><pubDate>{escape(text)}</pubDate></item></channel></rss>".encode()
    )
    parsed = feed.entries[0].get("published_parsed")
    return tuple(parsed) if parsed else None


@pytest.mark.parametrize("case", [c for c in CASES if c["expected"]], ids=lambda c: c["text"])
def test_feedparser_date_cases_still_read_as_feedparser_expects(case):
    if case["text"] in NOT_OURS:
        assert dates.parse_date(case["text"]) is None
    else:
        assert _published(case["text"]) == tuple(case["expected"])


@pytest.mark.parametrize("case", [c for c in CASES if not c["expected"]], ids=lambda c: c["text"])
def test_what_feedparser_calls_invalid_is_not_read_by_ours(case):
    # '2013-01-27-01' is one feedparser's chain reads as 01:00 anyway; ours agrees with it
    if case["text"] == "2013-01-27-01":
        assert tuple(dates.parse_date(case["text"])) == (2013, 1, 27, 1, 0, 0, 6, 27, 0)
    else:
        assert dates.parse_date(case["text"]) is None


@pytest.mark.parametrize("text, expected", [
    # Drupal's default RSS date (month first), no zone: UTC
    ("Thu, 04/11/2019 - 14:07", (2019, 4, 11, 14, 7)),
    ("Monday, November 30, 2026 - 9:15am", (2026, 11, 30, 9, 15)),
    # named zones feedparser takes for UTC: CEST is +2, BST +1, AEDT +11, IST (India) +5:30
    ("Thu, 26 Nov 2026 08:00:00 CEST", (2026, 11, 26, 6, 0)),
    ("Sat, 20 Jun 2026 08:00:00 BST", (2026, 6, 20, 7, 0)),
    ("Thu, 26 Nov 2026 08:00:00 AEDT", (2026, 11, 25, 21, 0)),
    ("Wed, 29 May 2019 15:46:00 IST", (2019, 5, 29, 10, 16)),
    # "GMT+3" as people mean it: three hours ahead
    ("2019-01-01 12:00 GMT+3", (2019, 1, 1, 9, 0)),
    # US zones as feedparser has them
    ("Wed, 5 Nov 2025 07:00:00  EST", (2025, 11, 5, 12, 0)),
])
def test_dates_real_feeds_write(text, expected):
    assert _published(text)[:5] == expected


@pytest.mark.parametrize("text", ["14:07", "2019", "Thu, 26 Nov 2026 08:00:00 XYZ", "the day after tomorrow", ""])
def test_no_whole_date_or_an_unknown_zone_is_not_a_date(text):
    assert dates.parse_date(text) is None


def test_a_real_feed_with_slashed_dates(fixtures_dir):
    """kc0011.rss (NetNewsWire's fixtures) dates items '2020/1/10 14:33:00'; feedparser alone
    reads that as 1 December 2020."""
    parsed = parse_feed((fixtures_dir / "netnewswire" / "kc0011.rss").read_bytes())
    assert len(parsed.items) == 20 and not parsed.rejections
    assert parsed.items[0].published_at == datetime(2020, 1, 10, 14, 33, tzinfo=timezone.utc)
    assert {d.published_at.date() for d in parsed.items} == {datetime(2020, 1, 10).date()}
