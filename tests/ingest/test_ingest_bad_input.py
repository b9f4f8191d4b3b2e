"""Every kind of bad input: the source or item is turned away with its reason, the rest
is stored, and nothing active reaches the database."""

from __future__ import annotations

import logging
import re
import socket
from datetime import datetime, timezone

import httpx

from digest.ingest import ingest_sources, ingest_urls
from digest.ingest.fetch import make_client
from digest.settings import SourceConfig

from .helpers import briefings, reasons, slugs, snapshot, source_row, videos

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_source_fails_alone(runtime, feed_server, client, caplog):
    dead = f"http://127.0.0.1:{_closed_port()}/feed.xml"
    good = feed_server.url("atom.xml")
    with caplog.at_level(logging.WARNING, logger="digest.ingest"):
        report = ingest_urls(runtime, [dead, good], client=client, now=NOW)

    failed, ok = report.results
    assert failed.error.startswith("unreachable") and failed.new == 0
    assert ok.error is None and ok.new == 2
    assert not report.all_failed
    assert source_row(runtime, dead).last_error == failed.error
    assert any(dead in r.getMessage() and "unreachable" in r.getMessage() for r in caplog.records)
    assert "FAILED: unreachable" in report.format()


def test_timeout(runtime, feed_server):
    with make_client(httpx.Timeout(0.3)) as impatient:
        report = ingest_urls(runtime, [feed_server.url("slow/atom.xml"), feed_server.url("atom.xml")],
                             client=impatient, now=NOW)
    slow, ok = report.results
    assert slow.error.startswith("timed out")
    assert ok.new == 2 and len(briefings(runtime)) == 2


def test_every_source_failing_is_all_failed(runtime, feed_server, client):
    report = ingest_urls(runtime, [feed_server.url("not-xml.html"), feed_server.url("missing.xml")],
                         client=client, now=NOW)
    assert report.all_failed
    not_xml, missing = report.results
    assert "not a readable RSS/Atom feed" in not_xml.error
    assert missing.error == "HTTP 404 Not Found"
    assert briefings(runtime) == {} and videos(runtime) == {}


def test_truncated_feed_keeps_the_items_that_arrived_whole(runtime, feed_server, client):
    report = ingest_urls(runtime, [feed_server.url("truncated.xml"), feed_server.url("truncated-head.xml")],
                         client=client, now=NOW)
    partial, headless = report.results
    assert partial.error is None and partial.new == 1
    assert reasons(partial) == {"Half an item": "no guid and no link"}
    assert any("damaged" in w for w in partial.warnings)
    assert list(briefings(runtime)) == ["https://truncated.example/complete"]
    assert "not a readable RSS/Atom feed" in headless.error


def test_bad_items_are_rejected_with_their_reasons(runtime, feed_server, client, caplog):
    with caplog.at_level(logging.WARNING, logger="digest.ingest"):
        [result] = ingest_urls(runtime, [feed_server.url("bad-items.xml")], client=client, now=NOW).results

    assert reasons(result) == {
        "Unparseable date": "unparseable date 'the day after tomorrow'",
        "No link and no guid": "no guid and no link",
        "Duplicate of the good item": "duplicate guid 'bad-1' in this feed (first one kept)",
    }
    assert [r.code for r in result.rejections] == ["bad-date", "no-id", "duplicate"]
    rows = briefings(runtime)
    assert sorted(rows) == ["bad-1", "bad-3", "bad-4", "bad-5"]
    assert rows["bad-1"].title == "Good item"  # the first of the duplicate guid won
    assert rows["bad-4"].title == "no title here"  # no title: its text's first sentence
    # no date, in the source's first fetch: history, dated 14 days back (in no edition)
    assert rows["bad-3"].published_at == datetime(2026, 11, 13, 12, 0, tzinfo=timezone.utc)
    assert (result.history, result.undated) == (1, 0)
    # future-dated: stored with its own date, counted, and left for selection to hold back
    assert rows["bad-5"].published_at == datetime(2100, 1, 1, 8, 0, tzinfo=timezone.utc)
    assert result.future == 1
    logged = [r.getMessage() for r in caplog.records]
    assert any("bad-items.xml" in m and "Unparseable date" in m and "unparseable date" in m for m in logged)


def test_five_megabyte_body_is_rejected(runtime, feed_server, client):
    huge = "<p>" + "lorem ipsum " * (5 * 1024 * 1024 // 12) + "</p>"
    feed = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Big</title>
<item><title>Huge body</title><guid>big-1</guid><pubDate>Thu, 26 Nov 2026 08:00:00 +0000</pubDate>
<content:encoded><![CDATA[{huge}]]></content:encoded></item>
<item><title>Small body</title><guid>big-2</guid><pubDate>Thu, 26 Nov 2026 09:00:00 +0000</pubDate>
<description>Gold, briefly.</description></item>
</channel></rss>""".encode()
    assert len(feed) > 5_000_000
    [result] = ingest_urls(runtime, [feed_server.put("big.xml", feed)], client=client, now=NOW).results
    assert reasons(result) == {"Huge body": "body is 5.2 MB, over the 1 MB limit"}
    assert list(briefings(runtime)) == ["big-2"]


ACTIVE = re.compile(
    r"<\s*(script|iframe|form|object|embed|style|svg|math|input|button)\b|\son\w+\s*=|javascript:|vbscript:"
    r"|data:|style\s*=|@import|url\(|evil\.example",
    re.I,
)


def test_hostile_html_stores_nothing_active(runtime, feed_server, client):
    [result] = ingest_urls(runtime, [feed_server.url("hostile.xml")], client=client, now=NOW).results
    assert (result.new, result.rejected) == (1, 0)
    row = briefings(runtime)["hostile-1"]
    stored = " ".join(str(v) for v in (row.title, row.body_html, row.excerpt, row.url))
    assert not ACTIVE.search(stored), ACTIVE.search(stored)
    assert "Safe text stays." in row.body_html
    assert '<a href="https://hostile.example/fine" rel="noopener' in row.body_html
    assert '<img alt="ok" src="https://cdn.example/ok.png">' in row.body_html
    assert row.title == "Hostile gold" and slugs(row) == ["gold"]


def test_bad_markdown_files_are_rejected_by_name(runtime, fixtures_dir, client):
    folder = fixtures_dir / "bad-folder"
    [result] = ingest_sources(runtime, [SourceConfig(kind="folder", path=str(folder))], client=client, now=NOW).results
    got = reasons(result)
    assert got["broken-yaml.md"].startswith("front matter is not valid YAML")
    assert got["no-title.md"] == "front matter: title: Field required"
    assert got["naive-date.md"] == "front matter: published: Value error, needs a UTC offset, e.g. 2026-11-26T13:05:00Z"
    assert got["typo-key.md"] == "front matter: attributon: Extra inputs are not permitted"
    assert got["no-front-matter.md"].startswith("no YAML front matter")
    assert got["unknown-topic.md"] == "unknown topics ['platinum']"
    assert len(got) == 6
    rows = briefings(runtime)
    assert list(rows) == ["folder:good"]
    assert rows["folder:good"].author_disclosure == "none"


def test_missing_folder_and_file_fail_their_source(runtime, tmp_path, client):
    report = ingest_urls(runtime, [str(tmp_path / "nowhere"), str(tmp_path / "nope.xml")], client=client, now=NOW)
    assert all(r.error.startswith("no such file or folder") for r in report.results)
    assert report.all_failed


def test_a_failed_run_leaves_earlier_content_alone(runtime, feed_server, client, fixtures_dir):
    url = feed_server.put("flaky.xml", (fixtures_dir / "atom.xml").read_bytes())
    ingest_urls(runtime, [url], client=client, now=NOW)
    before = snapshot(runtime)["briefings"]
    feed_server.put("flaky.xml", b"<html>oops</html>")
    [result] = ingest_urls(runtime, [url], client=client, now=NOW).results
    assert result.error
    assert snapshot(runtime)["briefings"] == before
    feed_server.put("flaky.xml", (fixtures_dir / "atom.xml").read_bytes())
    [result] = ingest_urls(runtime, [url], client=client, now=NOW).results
    # the failed run did not replace the validators, so the server can still say 304
    assert result.error is None and result.not_modified
    assert feed_server.requests[-1].status == 304
    assert source_row(runtime, url).last_error is None
    assert snapshot(runtime)["briefings"] == before


def test_an_item_the_database_refuses_is_rejected_alone(runtime, feed_server, client, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from digest.ingest import upsert

    real = upsert.store_item

    def refuse_one(session, source_id, draft, topics, *args):
        if draft.guid == "https://northwind.example/?p=1102":
            session.execute(upsert.select(upsert.Briefing))  # some work inside the savepoint first
            raise IntegrityError("INSERT", {}, Exception("simulated constraint failure"))
        return real(session, source_id, draft, topics, *args)

    monkeypatch.setattr(upsert, "store_item", refuse_one)
    [result] = ingest_urls(runtime, [feed_server.url("wordpress.xml")], client=client, now=NOW).results
    assert result.new == 4 and result.error is None
    assert reasons(result) == {
        "Corvid Gold files its Ashgrove feasibility study": "could not store: simulated constraint failure"
    }
    assert "https://northwind.example/?p=1102" not in briefings(runtime) and len(briefings(runtime)) == 4


def test_passwords_in_feed_urls_stay_out_of_logs_and_summary(runtime, feed_server, client, caplog):
    dead = f"http://reader:s3cret-pass@127.0.0.1:{_closed_port()}/private.xml"
    live = feed_server.url("atom.xml").replace("http://", "http://reader:s3cret-pass@")
    with caplog.at_level(logging.DEBUG):
        report = ingest_urls(runtime, [dead, live], client=client, now=NOW)
    assert report.results[0].label.startswith("http://reader:***@127.0.0.1:")
    assert report.results[1].new == 2
    assert feed_server.requests[-1].authorization == "Basic cmVhZGVyOnMzY3JldC1wYXNz"  # sent as a header
    assert "s3cret-pass" not in report.format()
    assert not any("s3cret-pass" in r.getMessage() for r in caplog.records)
