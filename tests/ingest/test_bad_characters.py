"""Characters no email can carry (C0/C1 controls, noncharacters, NUL), as entities the
parser decodes and as raw bytes, in every field of a feed: stored clean, on both backends."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from digest.ingest import ingest_urls

from .helpers import briefings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
UNCARRIABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")

#: (how it is written in the feed, a name for the item)
BAD = [
    ("&#x1;", "entity-01"),
    ("\x01", "raw-01"),
    ("\ufffe", "raw-fffe"),
    ("\uffff", "raw-ffff"),
    ("&#xFFFE;", "entity-fffe"),
    ("\x00", "raw-nul"),
    ("\x9f", "raw-c1"),
    ("&#x1b;[31m", "entity-escape"),
]


def _item(bad: str, name: str) -> str:
    return (
        f"<item><title>Gold{bad} rises</title><guid>{name}{bad}</guid>"
        f"<link>https://chars.example/{name}</link><dc:creator>Ann{bad} Lee</dc:creator>"
        f"<pubDate>Fri, 27 Nov 2026 08:00:00 +0000</pubDate><category>Gold{bad}</category>"
        f"<description>Bullion{bad} demand rose.</description>"
        f"<content:encoded><![CDATA[<p>Bullion{bad} demand rose.</p>"
        f"<p>Information for this briefing was found via mint{bad} data.</p>"
        f"<p>Disclosure: the author{bad} holds no gold.</p>"
        f"<p>Paid promotion: Acme{bad} Corp paid $1,000 in cash.</p>]]></content:encoded></item>"
    )


FEED = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0' "
        "xmlns:content='http://purl.org/rss/1.0/modules/content/' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
        "<channel><title>Chars</title>" + "".join(_item(b, n) for b, n in BAD) + "</channel></rss>").encode(
            "utf-8", "surrogatepass")


def test_every_field_is_stored_without_the_characters(runtime, feed_server, client):
    [result] = ingest_urls(runtime, [feed_server.put("chars.xml", FEED)], client=client, now=NOW).results
    assert result.error is None
    assert (result.new, result.rejected) == (len(BAD), 0), result.rejections
    rows = briefings(runtime)
    # the escape sequence's visible part stays text; only the ESC character goes. A C1 control
    # is read by feedparser as the windows-1252 character of that byte (U+009F -> "Ÿ"), as
    # feeds mislabelled latin-1 mean it: a visible letter, not a control, by then.
    assert sorted(rows) == sorted(["entity-01", "raw-01", "raw-fffe", "raw-ffff", "entity-fffe", "raw-nul",
                                   "raw-c1Ÿ", "entity-escape[31m"])
    for guid, row in rows.items():
        values = {c: getattr(row, c) for c in ("guid", "url", "title", "body_html", "excerpt", "author",
                                               "attribution", "author_disclosure", "sponsor_payer",
                                               "sponsor_amount", "sponsor_form", "sponsor_disclosure")}
        for column, value in values.items():
            assert not UNCARRIABLE.search(value or ""), (guid, column, value)
        suffix = {"entity-escape[31m": "[31m", "raw-c1Ÿ": "Ÿ"}.get(guid, "")
        assert row.title == f"Gold{suffix} rises"
        assert row.author == f"Ann{suffix} Lee"
        assert row.excerpt == f"Bullion{suffix} demand rose."
        assert row.body_html == f"<p>Bullion{suffix} demand rose.</p>"
        assert row.attribution == f"Information for this briefing was found via mint{suffix} data."
        assert row.author_disclosure == f"the author{suffix} holds no gold."
        assert row.sponsor_payer == f"Acme{suffix} Corp"
        # "GoldŸ" is another word than gold (no rule matches it): the fallback topic
        assert [t.slug for t in row.topics] == (["general"] if suffix == "Ÿ" else ["gold"])
