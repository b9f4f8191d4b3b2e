"""One length rule on SQLite and PostgreSQL: PostgreSQL enforces VARCHAR(n), SQLite does not,
so the same feed used to store on one and fail on the other. The same feed goes into both
in one test and comes out the same, with the values worked out by hand."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from digest.ingest import ingest_urls
from digest.models import Base
from digest.runtime import Runtime

from .helpers import briefings, reasons

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
COMPLETE = "<p>Information for this briefing was found via filings.</p><p>Disclosure: none.</p>"

TITLE = " ".join(["abcd"] * 120)  # 599 characters; the column holds 500
EXCERPT = " ".join(["efgh"] * 60)  # 299; excerpts are one line of at most 200
AUTHOR = " ".join(["ijkl"] * 80)  # 399; the column holds 300
PAYER = " ".join(["Mnop"] * 120)  # 599; the column holds 500
LONG_LINK = "https://long.example/" + "x" * (2100 - len("https://long.example/"))
FULL_LINK = "https://long.example/" + "y" * (2000 - len("https://long.example/"))
LONG_GUID = "g" * 1001


def _item(guid: str, link: str, title: str = "Short title", *, description: str = "", author: str = "",
          body: str = "<p>Body.</p>") -> str:
    return (f"<item><title>{title}</title><guid>{guid}</guid><link>{link}</link>"
            f"<pubDate>Fri, 27 Nov 2026 08:00:00 +0000</pubDate><category>Gold</category>"
            + (f"<dc:creator>{author}</dc:creator>" if author else "")
            + (f"<description>{description}</description>" if description else "")
            + f"<content:encoded><![CDATA[{body}{COMPLETE}]]></content:encoded></item>")


FEED = ("<?xml version='1.0'?><rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/' "
        "xmlns:dc='http://purl.org/dc/elements/1.1/'><channel><title>Long</title>"
        + _item("long-text", "https://long.example/text", TITLE, description=EXCERPT, author=AUTHOR,
                body=f"<p>Gold.</p><p>Paid promotion: {PAYER} paid $5,000 in cash.</p>")
        + _item("long-link", LONG_LINK, "Long link item")
        + _item(LONG_GUID, "https://long.example/guid", "Long guid item")
        + _item("full-link", FULL_LINK)
        + "</channel></rss>").encode()


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
                          + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def both(sqlite_url, postgres_url, make_settings):
    _truncate(postgres_url)
    runtimes = {name: Runtime.open(make_settings(url)) for name, url in
                (("sqlite", sqlite_url), ("postgresql", postgres_url))}
    yield runtimes
    for rt in runtimes.values():
        rt.close()


def _stored(runtime) -> dict[str, dict]:
    columns = ("url", "title", "excerpt", "author", "sponsor_payer", "sponsor_amount", "sponsor_form",
               "sponsor_disclosure")
    return {guid: {c: getattr(row, c) for c in columns} for guid, row in briefings(runtime).items()}


def test_the_same_length_rules_on_sqlite_and_postgresql(both, feed_server, client):
    url = feed_server.put("long.xml", FEED)
    stored = {}
    for name, runtime in both.items():
        [result] = ingest_urls(runtime, [url], client=client, now=NOW).results
        assert result.error is None, (name, result.error)
        assert reasons(result) == {
            "Long link item": "link is 2,100 characters, over the 2,000 the store keeps",
            "Long guid item": "guid is 1,001 characters, over the 1,000 the store keeps",
        }, name
        assert sorted(r.code for r in result.rejections) == ["guid-too-long", "link-too-long"]
        stored[name] = _stored(runtime)

    assert stored["sqlite"] == stored["postgresql"]
    rows = stored["postgresql"]
    assert sorted(rows) == ["full-link", "long-text"]
    assert rows["full-link"]["url"] == FULL_LINK and len(FULL_LINK) == 2000  # exactly the limit: kept
    long_text = rows["long-text"]
    # cut at the last whole word that leaves room for the ellipsis
    assert long_text["title"] == " ".join(["abcd"] * 99) + "…" and len(long_text["title"]) == 495
    assert long_text["excerpt"] == " ".join(["efgh"] * 39) + "…"
    assert long_text["author"] == " ".join(["ijkl"] * 59) + "…"
    assert long_text["sponsor_payer"] == " ".join(["Mnop"] * 99) + "…"
    assert (long_text["sponsor_amount"], long_text["sponsor_form"]) == ("$5,000", "cash")
    # the sentence as published is kept whole beside the parsed fields
    assert long_text["sponsor_disclosure"] == f"Paid promotion: {PAYER} paid $5,000 in cash."


def test_validators_and_locations_over_their_columns(runtime, feed_server, client, fixtures_dir):
    """An ETag over 500 characters is not kept (the next fetch is unconditional) instead of
    failing the source on PostgreSQL only; a feed location over 2,000 fails with its reason."""
    from digest.ingest.run import _validator

    assert _validator("x" * 500, 500) == "x" * 500 and _validator("x" * 501, 500) is None
    long_location = feed_server.url("atom.xml") + "?" + "q" * 2000
    [result] = ingest_urls(runtime, [long_location], client=client, now=NOW).results
    assert result.error == f"the location is {len(long_location):,} characters, over the 2,000 the store keeps"
