"""Real feed files served over HTTP on loopback, stored on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from digest.ingest import ingest_sources, ingest_urls
from digest.ingest.fetch import FetchError, fetch
from digest.settings import SourceConfig

from .helpers import briefings, slugs, snapshot, source_row, videos

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def test_wordpress_feed(runtime, feed_server, client):
    url = feed_server.url("wordpress.xml")
    report = ingest_sources(runtime, [SourceConfig(name="Northwind", kind="wordpress", url=url)], client=client, now=NOW)

    [result] = report.results
    assert (result.label, result.kind, result.new, result.rejected, result.error) == ("Northwind", "wordpress", 5, 0, None)
    assert result.fallback == 1  # "Quiet week ahead": no category, no keyword
    rows = briefings(runtime)
    lithium = rows["https://northwind.example/?p=1101"]
    assert lithium.title == "Tarn Valley Lithium widens its spodumene intercepts"
    assert lithium.author == "Maya Ellison"  # dc:creator
    assert lithium.published_at == datetime(2026, 11, 26, 13, 5, tzinfo=timezone.utc)
    assert slugs(lithium) == ["lithium"]  # from the category
    assert lithium.attribution == (
        "Information for this briefing was found via the company\u2019s news release of 25 November 2026."
    )
    assert lithium.author_disclosure == "The author holds shares of Tarn Valley Lithium bought in the open market."
    assert "4,000 metres" in lithium.body_html  # content:encoded, not the short description
    assert "Information for" not in lithium.body_html and "Disclosure" not in lithium.body_html
    assert lithium.excerpt.startswith("Tarn Valley Lithium reported wider") and "<" not in lithium.excerpt
    assert not lithium.is_sponsored
    assert lithium.source_id == source_row(runtime, url).id
    assert result.warnings == []

    gold = rows["https://northwind.example/?p=1102"]
    assert gold.is_sponsored
    assert (gold.sponsor_payer, gold.sponsor_amount, gold.sponsor_form) == ("Corvid Gold Corp.", "USD 7,500", "cash")
    assert gold.sponsor_disclosure.startswith("Paid promotion:")
    assert gold.author_disclosure == "none"
    assert "Paid promotion" not in gold.body_html

    assert slugs(rows["https://northwind.example/?p=1099"]) == ["ev-supply-chain"]  # keyword "cathode"
    assert slugs(rows["https://northwind.example/?p=1098"]) == ["general"]  # the fallback
    pick = rows["https://northwind.example/?p=1097"]
    assert pick.is_editor_pick and slugs(pick) == ["silver"]
    # a relative link resolved against the item's URL, and marked noopener
    assert 'href="https://northwind.example/2026/11/01/pale-harbour-history/"' in pick.body_html
    assert 'rel="noopener' in pick.body_html


def test_youtube_feed(runtime, feed_server, client):
    report = ingest_urls(runtime, [feed_server.url("youtube.xml")], client=client, now=NOW)

    [result] = report.results
    assert (result.kind, result.new, result.rejected) == ("youtube", 3, 0)
    assert briefings(runtime) == {}
    rows = videos(runtime)
    video = rows["yt:video:NwLith00001"]
    assert video.url == "https://www.youtube.com/watch?v=NwLith00001"
    assert video.thumbnail_url == "https://i1.ytimg.com/vi/NwLith00001/hqdefault.jpg"
    assert video.description.startswith("How brine and spodumene projects differ")
    assert video.published_at == datetime(2026, 11, 26, 14, 0, 6, tzinfo=timezone.utc)
    assert slugs(video) == ["lithium"]
    assert slugs(rows["yt:video:NwGold00002"]) == ["gold"]
    assert rows["yt:video:NwMisc00003"].thumbnail_url is None  # a javascript: thumbnail is dropped
    assert result.fallback == 1


def test_plain_atom_feed(runtime, feed_server, client):
    report = ingest_urls(runtime, [feed_server.url("atom.xml")], client=client, now=NOW)

    [result] = report.results
    assert (result.kind, result.new, result.rejected) == ("atom", 2, 0)
    rows = briefings(runtime)
    copper = rows["urn:uuid:harbourline-0001"]
    assert copper.title == "Copper & the porphyry pipeline"
    assert copper.author == "Rui Santos"
    assert copper.published_at == datetime(2026, 11, 26, 14, 30, tzinfo=timezone.utc)  # -05:00 -> UTC
    assert copper.attribution.startswith("Information for this briefing was found via")
    assert slugs(copper) == ["copper"]
    uranium = rows["urn:uuid:harbourline-0002"]
    assert uranium.published_at == datetime(2026, 11, 25, 16, 0, tzinfo=timezone.utc)  # only <updated>
    assert slugs(uranium) == ["uranium"]  # keyword "yellowcake"
    assert uranium.body_html == "<p>Term contracts for yellowcake held steady.</p>"


def test_markdown_folder(runtime, fixtures_dir, client):
    folder = fixtures_dir / "folder"
    report = ingest_sources(runtime, [SourceConfig(name="Desk", kind="folder", path=str(folder))], client=client, now=NOW)

    [result] = report.results
    assert (result.new, result.rejected, result.error) == (3, 0, None)
    rows = briefings(runtime)
    salar = rows["northwind-folder-001"]
    assert salar.is_editor_pick and slugs(salar) == ["lithium"]
    assert salar.author_disclosure == "The author holds no position in Salar Alto Resources."
    assert salar.excerpt == "The last hearing on Salar Alto's brine permits ended without objection."
    assert "<strong>brine</strong>" in salar.body_html
    kestrel = rows["folder:sponsored-gold"]  # no guid: "folder:" + stem
    assert kestrel.published_at == datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
    assert (kestrel.sponsor_payer, kestrel.sponsor_amount, kestrel.sponsor_form) == ("Kestrel Gold Corp.", "USD 5,000", "cash")
    # body paragraphs still fill what the front matter left out, and leave the body
    assert kestrel.attribution == "Information for this briefing was found via the company's operations update."
    assert kestrel.author_disclosure == "none"
    assert "Disclosure" not in kestrel.body_html
    assert slugs(kestrel) == ["gold"]
    video = videos(runtime)["northwind-video-001"]
    assert video.thumbnail_url == "https://videos.example/thumbs/copper-concentrator.jpg"
    assert slugs(video) == ["copper"]
    assert source_row(runtime, str(folder)).kind == "folder"


def test_reingest_sends_conditional_requests_and_changes_no_row(runtime, feed_server, client):
    urls = [feed_server.url(n) for n in ("wordpress.xml", "youtube.xml", "atom.xml")]
    first = ingest_urls(runtime, urls, client=client, now=NOW)
    assert [r.new for r in first.results] == [5, 3, 2]
    row = source_row(runtime, urls[0])
    assert row.etag and row.last_modified
    before = snapshot(runtime)

    second = ingest_urls(runtime, urls, client=client, now=NOW.replace(hour=13))

    assert all(r.not_modified and r.new == r.updated == 0 for r in second.results)
    conditional = feed_server.requests[-3:]
    assert all(seen.status == 304 and seen.if_none_match and seen.if_modified_since for seen in conditional)
    assert conditional[0].if_none_match == row.etag
    assert snapshot(runtime) == before


def test_unchanged_content_without_validators_writes_nothing(runtime, feed_server, client):
    feed_server.validators = False  # a server that never answers 304
    url = feed_server.url("wordpress.xml")
    ingest_urls(runtime, [url], client=client, now=NOW)
    before = snapshot(runtime)["briefings"]

    [result] = ingest_urls(runtime, [url], client=client, now=NOW).results

    assert (result.new, result.updated, result.unchanged) == (0, 0, 5)
    assert snapshot(runtime)["briefings"] == before


def test_edited_item_is_updated(runtime, feed_server, client, fixtures_dir):
    original = (fixtures_dir / "wordpress.xml").read_bytes()
    url = feed_server.put("feed.xml", original)
    ingest_urls(runtime, [url], client=client, now=NOW)
    untouched_before = briefings(runtime)["https://northwind.example/?p=1102"].updated_at

    edited = original.replace(b"widens its spodumene intercepts", b"doubles its spodumene intercepts")
    feed_server.put("feed.xml", edited)
    [result] = ingest_urls(runtime, [url], client=client, now=NOW).results

    assert (result.new, result.updated, result.unchanged) == (0, 1, 4)
    assert feed_server.requests[-1].status == 200 and feed_server.requests[-1].if_none_match
    rows = briefings(runtime)
    assert rows["https://northwind.example/?p=1101"].title == "Tarn Valley Lithium doubles its spodumene intercepts"
    assert rows["https://northwind.example/?p=1102"].updated_at == untouched_before
    assert len(rows) == 5


def test_source_default_topics_come_before_the_fallback(runtime, feed_server, client):
    source = SourceConfig(kind="wordpress", url=feed_server.url("wordpress.xml"), topics=("copper",))
    [result] = ingest_sources(runtime, [source], client=client, now=NOW).results
    assert result.fallback == 0
    assert slugs(briefings(runtime)["https://northwind.example/?p=1098"]) == ["copper"]
    assert slugs(briefings(runtime)["https://northwind.example/?p=1101"]) == ["lithium"]


def test_local_files_and_kind_sniffing(runtime, fixtures_dir, feed_server, client):
    report = ingest_urls(runtime, [
        str(fixtures_dir / "youtube.xml"),                 # a feed file on disk
        str(fixtures_dir / "folder" / "video-copper.md"),  # one Markdown file
        feed_server.url("wordpress.xml"),                  # kind from <generator>
    ], client=client, now=NOW)
    assert [(r.kind, r.new, r.error) for r in report.results] == [
        ("youtube", 3, None), ("folder", 1, None), ("wordpress", 5, None),
    ]
    assert source_row(runtime, feed_server.url("wordpress.xml")).kind == "wordpress"
    assert "northwind-video-001" in videos(runtime)


def test_oversized_response_is_not_read(feed_server, client):
    with pytest.raises(FetchError, match="response larger than 1,024 bytes"):
        fetch(client, feed_server.url("wordpress.xml"), max_bytes=1024)
