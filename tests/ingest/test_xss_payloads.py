"""A published XSS payload list (payloadbox, tests/fixtures/feeds/payloadbox/) placed in
every field of an RSS feed, an Atom feed and a YouTube channel feed: no crash, every parsed item stored or
refused for a documented reason, nothing active stored, and nothing active in the emails
the stored items render to (HTML parsed with real parsers: html.parser and lxml)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import feedparser

from digest.ingest import ingest_urls
from digest.ingest.refusals import REASONS
from digest.select.candidates import load_briefings, load_videos

from .feed_server import FIXTURES
from .helpers import check_stored_html, render_each, render_videos

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
PAYLOADS = [line for line in (FIXTURES / "payloadbox" / "xss-payload-list-every-30th.txt")
            .read_text(encoding="utf-8").splitlines() if line.strip()]


def _rss(payloads: list[str]) -> bytes:
    items = []
    for i, p in enumerate(payloads):
        body = (f"<p>{p}</p><p>Information for this briefing was found via {p}.</p>"
                f"<p>Disclosure: none {p}</p><p>Paid promotion: {p} paid $1 in {p}.</p>")
        items.append(
            f"<item><title>{escape(p)}</title><guid>xss-{i}-{escape(p)}</guid><link>{escape(p)}</link>"
            f"<pubDate>Fri, 27 Nov 2026 08:00:00 +0000</pubDate><dc:creator>{escape(p)}</dc:creator>"
            f"<category>Gold</category><category>{escape(p)}</category><description>{escape(p)}</description>"
            f"<content:encoded>{escape(body)}</content:encoded></item>"
        )
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0' "
            "xmlns:content='http://purl.org/rss/1.0/modules/content/' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
            "<channel><title>XSS</title>" + "".join(items) + "</channel></rss>").encode()


def _atom(payloads: list[str]) -> bytes:
    """The payload in the id, the link, every text construct (as HTML) and, in every other
    entry, the date."""
    entries = "".join(
        f"<entry><id>{escape(p)}</id><link href={quoteattr(p)}/><title type='html'>{escape(p)}</title>"
        f"<updated>{escape(p) if i % 2 else '2026-11-27T08:00:00Z'}</updated><author><name>{escape(p)}</name>"
        f"</author><summary type='html'>{escape(p)}</summary><content type='html'>{escape(p)}</content></entry>"
        for i, p in enumerate(payloads)
    )
    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>XSS</title>"
            + entries + "</feed>").encode()


def _youtube(payloads: list[str]) -> bytes:
    """A YouTube channel feed: the payload in the title, link, thumbnail and description."""
    entries = "".join(
        f"<entry><id>yt:video:xss{i:08d}</id><yt:videoId>xss{i:08d}</yt:videoId><title>{escape(p)}</title>"
        f"<link rel='alternate' href={quoteattr(p)}/><published>2026-11-27T08:00:00+00:00</published>"
        f"<media:group><media:title>{escape(p)}</media:title><media:thumbnail url={quoteattr(p)}/>"
        f"<media:description>{escape(p)}</media:description></media:group></entry>"
        for i, p in enumerate(payloads)
    )
    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom' "
            "xmlns:yt='http://www.youtube.com/xml/schemas/2015' xmlns:media='http://search.yahoo.com/mrss/'>"
            "<title>XSS videos</title>" + entries + "</feed>").encode()


def test_xss_payloads_in_every_field(runtime, feed_server, client):
    documents = {"xss.rss": _rss(PAYLOADS), "xss.atom": _atom(PAYLOADS), "xss.youtube": _youtube(PAYLOADS)}
    report = ingest_urls(runtime, [feed_server.put(name, doc) for name, doc in documents.items()],
                         client=client, now=NOW)
    for (name, doc), result in zip(documents.items(), report.results):
        assert result.error is None, (name, result.error)
        parsed = len(feedparser.parse(doc).entries)
        assert parsed == len(PAYLOADS), name
        assert result.new + result.rejected == parsed, (name, result.new, result.rejected)
        for rejection in result.rejections:
            assert rejection.code in REASONS, rejection
            assert f"[{rejection.code}]" in report.format()
    rss, atom, youtube = report.results
    # a payload that is all markup leaves no title and no text (one over 1,000 characters
    # would be too long a guid); nothing else refuses the RSS items, each with its guid and date
    assert {r.code for r in rss.rejections} <= {"no-title", "guid-too-long"}
    assert rss.new > len(PAYLOADS) // 2
    # half the Atom entries have a payload for a date (refused, bad-date); the others are
    # known by the payload as their id, so two alike are one item
    assert {r.code for r in atom.rejections} <= {"bad-date", "no-title", "guid-too-long", "duplicate"}
    assert atom.new > len(PAYLOADS) // 4  # most of the dated half

    with runtime.session() as session:
        candidates = load_briefings(session, NOW - timedelta(days=365 * 50), NOW)
    assert len(candidates) == rss.new + atom.new
    for c in candidates:
        check_stored_html(c.body_html, c.guid)
        assert c.url is None or urlsplit(c.url).scheme in ("http", "https"), c.url

    # every stored item in an email of its own: nothing active, and its title shown
    assert render_each(runtime, candidates) == len(candidates)

    # videos: an id makes the link when the given one is unsafe; no unsafe thumbnail is kept
    assert youtube.kind == "youtube" and {r.code for r in youtube.rejections} <= {"no-title"}
    with runtime.session() as session:
        stored_videos = load_videos(session, NOW - timedelta(days=1), NOW)
    assert len(stored_videos) == youtube.new > len(PAYLOADS) // 2
    for v in stored_videos:
        assert urlsplit(v.url).scheme in ("http", "https"), v.url
        assert v.thumbnail_url is None or urlsplit(v.thumbnail_url).scheme in ("http", "https"), v.thumbnail_url
    assert render_videos(runtime, stored_videos) == len(stored_videos)
