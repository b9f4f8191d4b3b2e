"""Real feeds from NetNewsWire's parser tests (tests/fixtures/feeds/netnewswire/): no crash,
every item feedparser finds is stored or refused for a documented reason, stored HTML is
on the allow-list, and the dates come out as the feeds wrote them."""

from __future__ import annotations

from datetime import datetime, timezone

import feedparser
import pytest

from digest.ingest import ingest_urls
from digest.ingest.refusals import REASONS

from .feed_server import FIXTURES
from .helpers import briefings, check_stored_html

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
FEEDS = sorted((FIXTURES / "netnewswire").glob("*.*"))
FEEDS = [f for f in FEEDS if f.suffix in (".rss", ".xml")]

#: feed -> (stored, refused); counted by hand from the files (scriptingNews repeats two guids)
EXPECTED = {
    "EMarley.rss": (10, 0),
    "donthitsave.xml": (10, 0),
    "kc0011.rss": (20, 0),
    "livemint.xml": (25, 0),
    "manton.rss": (10, 0),
    "medscape.rss": (20, 0),
    "scriptingNews.rss": (48, 2),
}


def test_the_fixture_set_is_the_one_counted():
    assert sorted(f.name for f in FEEDS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.name)
def test_real_feed_items_are_stored_or_refused_for_a_documented_reason(runtime, client, path):
    [result] = ingest_urls(runtime, [str(path)], client=client, now=NOW).results
    assert result.error is None
    assert len(feedparser.parse(path.read_bytes()).entries) == sum(EXPECTED[path.name])
    assert (result.new, result.rejected) == EXPECTED[path.name], result.rejections
    assert all(r.code in REASONS for r in result.rejections)
    rows = briefings(runtime)
    assert len(rows) == result.new
    for guid, row in rows.items():
        check_stored_html(row.body_html, guid)
        assert row.title and len(row.title) <= 500


def test_dates_as_the_real_feeds_wrote_them(runtime, client):
    ingest_urls(runtime, [str(FIXTURES / "netnewswire" / n) for n in ("medscape.rss", "livemint.xml")],
                client=client, now=NOW)
    rows = briefings(runtime)
    by_title = {row.title: row for row in rows.values()}
    # medscape: "Wed, 5 Nov 2025 13:52:10  EST" (two spaces, a US zone name)
    assert by_title["Caution Urged for Virtual Care Partnerships in Canada"].published_at == datetime(
        2025, 11, 5, 18, 52, 10, tzinfo=timezone.utc)
    # livemint: a CDATA date with a space after it, "Wed, 29 May 2019 10:16:00 GMT"
    assert by_title["PM Modi-Xi Jinping informal summit in Varanasi this October: Report"].published_at == (
        datetime(2019, 5, 29, 10, 16, tzinfo=timezone.utc))
