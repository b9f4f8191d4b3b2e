"""Items a feed reader shows are kept: no title -> its first sentence; no date -> the time
first seen, except in a source's first fetch, where undated items are history and stay out
of the next edition (checked with the real selector)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from digest.ingest import IngestReport, ingest_urls
from digest.select import Selector

from .helpers import briefings

T1 = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)
COMPLETE = ("<p>Information for this briefing was found via the exchange's filings.</p>"
            "<p>Disclosure: none.</p>")


def _item(guid: str, *, title: str | None, text: str, pub: str | None) -> str:
    return (
        "<item>"
        + (f"<title>{title}</title>" if title is not None else "")
        + f"<guid>{guid}</guid><link>https://kept.example/{guid}</link>"
        + (f"<pubDate>{pub}</pubDate>" if pub else "")
        + f"<category>Copper</category><content:encoded><![CDATA[<p>{text}</p>{COMPLETE}]]></content:encoded>"
        + "</item>"
    )


def _feed(*items: str) -> bytes:
    return ("<?xml version='1.0'?><rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
            "<channel><title>Kept</title>" + "".join(items) + "</channel></rss>").encode()


DATED = _item("dated", title="Dated copper note", text="Dated.", pub="Fri, 27 Nov 2026 05:00:00 +0000")
UNDATED_OLD = _item("undated-old", title="Old undated note", text="From the back catalogue.", pub=None)
UNTITLED_OLD = _item("untitled-old", title=None,
                     text="Copper output rose 4% in October. Analysts had expected less.", pub=None)
UNDATED_NEW = _item("undated-new", title=None, text="Smelter fees fell again! Buyers noticed.", pub=None)


def _edition_titles(runtime, now: datetime, *, since: datetime | None = None) -> set[str]:
    with runtime.session() as session:
        selection = Selector(session, runtime.settings.config, now).for_topics([], date(2026, 11, 27), since=since)
    items = [b for s in selection.sections for b in s.briefings] + list(selection.recommended) + list(selection.related)
    return {item.title for item in items}


def test_undated_items_history_on_first_fetch_then_dated_when_first_seen(runtime, feed_server, client):
    feed_server.validators = False  # every fetch parses the feed again
    url = feed_server.put("kept.xml", _feed(DATED, UNDATED_OLD, UNTITLED_OLD))

    [first] = ingest_urls(runtime, [url], client=client, now=T1).results
    assert (first.new, first.rejected, first.history, first.undated) == (3, 0, 2, 0)
    rows = briefings(runtime)
    history = T1 - timedelta(days=14)
    assert rows["undated-old"].published_at == history
    assert rows["untitled-old"].published_at == history
    assert rows["untitled-old"].title == "Copper output rose 4% in October."
    assert "2 item(s) without a date in the source's first fetch, kept as history" in IngestReport([first]).format()
    # the next edition: a new reader (72-hour window) and one whose last digest is 13 days old
    assert _edition_titles(runtime, T1 + timedelta(hours=1)) == {"Dated copper note"}
    assert _edition_titles(runtime, T1 + timedelta(hours=1), since=T1 - timedelta(days=13)) == {"Dated copper note"}

    t2 = T1 + timedelta(hours=2)
    feed_server.put("kept.xml", _feed(UNDATED_NEW, DATED, UNDATED_OLD, UNTITLED_OLD))
    [second] = ingest_urls(runtime, [url], client=client, now=t2).results
    assert (second.new, second.unchanged, second.history, second.undated) == (1, 3, 0, 1)
    rows = briefings(runtime)
    assert rows["undated-new"].published_at == t2
    assert rows["undated-new"].title == "Smelter fees fell again!"
    assert rows["undated-old"].published_at == history  # still history
    assert _edition_titles(runtime, t2 + timedelta(hours=1), since=T1 + timedelta(hours=1)) == {
        "Smelter fees fell again!"}

    # seen again later: the time first seen stays, nothing is rewritten
    [third] = ingest_urls(runtime, [url], client=client, now=t2 + timedelta(days=1)).results
    assert (third.new, third.updated, third.unchanged) == (0, 0, 4)
    assert briefings(runtime)["undated-new"].published_at == t2


def test_title_less_items_of_a_real_feed_take_their_first_sentence(runtime, fixtures_dir, client):
    """Dave Winer's Scripting News (NetNewsWire's fixture): 39 of its 50 items have no title."""
    path = fixtures_dir / "netnewswire" / "scriptingNews.rss"
    [result] = ingest_urls(runtime, [str(path)], client=client, now=T1).results
    # 50 items, two of them repeat an earlier guid
    assert (result.new, result.rejected) == (48, 2)
    assert {r.code for r in result.rejections} == {"duplicate"}
    rows = briefings(runtime)
    assert rows["http://scripting.com/2017/06/26.html#a080605"].title == "Good morning students and teachers! 🍏"
    assert rows["http://scripting.com/2017/06/26.html#a030658"].title == (
        "This is the human side of Health care is socialist.")
    assert rows["http://scripting.com/2017/06/26.html#a020604"].title == (
        "Interesting Politico piece posits that Trump acts as if he's mayor of the United States.")
    # a long first sentence is cut at a word, at most 120 characters, with an ellipsis
    assert rows["http://scripting.com/2017/06/23.html#a070641"].title == (
        "BTW, if someone expresses frustration it doesn't follow that they blame you, esp on Twitter which is a "
        "length-impaired…")
    assert all(0 < len(r.title) <= 120 for r in rows.values())
