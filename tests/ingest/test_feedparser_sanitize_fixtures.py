"""feedparser's own hostile-HTML test feeds (tests/fixtures/feeds/feedparser/sanitize/:
scripts, event handlers, applets, frames, base64 and CDATA scripts, "crazy" HTML), each
given an id and a title (feedparser's files test one field and carry neither; most are an
image with a handler, no text to make a title from): no crash, every item stored, stored
bodies on the allow-list, and the emails they render to free of anything active."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from digest.ingest import ingest_urls
from digest.select.candidates import load_briefings

from .feed_server import FIXTURES
from .helpers import check_stored_html, render_each

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
FILES = sorted((FIXTURES / "feedparser" / "sanitize").glob("*.xml"))


def _with_id(name: str, xml: str) -> bytes:
    xml = xml.replace("<item>", f"<item><guid>fp-{name}</guid><title>{name}</title>", 1)
    return xml.replace("<entry>", f"<entry><id>fp-{name}</id><title>{name}</title>", 1).encode()


def test_feedparser_hostile_feeds(runtime, feed_server, client):
    assert len(FILES) == 66
    urls = [feed_server.put(f.name, _with_id(f.stem, f.read_text(encoding="utf-8"))) for f in FILES]
    report = ingest_urls(runtime, urls, client=client, now=NOW)
    for path, result in zip(FILES, report.results):
        assert result.error is None, (path.name, result.error)
        assert (result.new, result.rejected) == (1, 0), (path.name, result.rejections)
        # undated, in the source's first fetch: kept as history
        assert result.history == 1

    with runtime.session() as session:
        candidates = load_briefings(session, NOW - timedelta(days=365), NOW)
    assert sorted(c.guid for c in candidates) == sorted(f"fp-{f.stem}" for f in FILES)
    for c in candidates:
        check_stored_html(c.body_html, c.guid)
    assert render_each(runtime, candidates) == len(candidates)
