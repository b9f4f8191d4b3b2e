"""Feed bytes -> drafts, through feedparser (RSS 0.9x/1.0/2.0 and Atom).

feedparser's own HTML sanitiser is turned off: nh3 does that job, once, with the email
allow-list. A feed feedparser cannot read at all ("bozo" with no entries) fails the
whole source; a damaged feed that still yields entries keeps the good ones, and the
damage is reported as a warning.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import feedparser

from . import dates  # noqa: F401  (registers python-dateutil with feedparser)
from .checks import ItemRejected, item_label
from .drafts import Parsed, Rejection
from .wordpress import entry_to_briefing
from .youtube import entry_to_video, is_video_entry


class FeedError(Exception):
    """The content is not a usable feed; the message says why."""


def detect_kind(feed: Any, configured: str | None) -> str:
    """``youtube`` when entries carry video ids, else the configured kind, else a guess."""
    if configured == "youtube" or any(is_video_entry(e) for e in feed.entries):
        return "youtube"
    if configured:
        return configured
    generator = (feed.feed.get("generator") or "") + " " + (feed.feed.get("generator_detail", {}).get("href") or "")
    if "wordpress" in generator.lower():
        return "wordpress"
    return "atom" if (feed.version or "").startswith("atom") else "rss"


def _problem(feed: Any) -> str:
    exc = feed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc else "unknown format"


#: feedparser "bozo" reasons that say nothing about the feed's content being damaged.
BENIGN = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(data: bytes, *, configured_kind: str | None = None, content_type: str | None = None) -> Parsed:
    # No content-location: relative links are resolved later against each item's own link
    # (where a WordPress post's links point), not against wherever the feed was fetched.
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    feed = feedparser.parse(data, sanitize_html=False, response_headers=headers or None)
    if not feed.entries:
        if feed.bozo or not feed.version:
            raise FeedError(f"not a readable RSS/Atom feed ({_problem(feed)})")
        return Parsed(kind=detect_kind(feed, configured_kind))

    parsed = Parsed(kind=detect_kind(feed, configured_kind))
    if feed.bozo and not isinstance(feed.get("bozo_exception"), BENIGN):
        parsed.warnings.append(
            f"feed is damaged ({_problem(feed)}); kept what parsed ({len(feed.entries)} entries)"
        )
    seen: set[str] = set()
    for index, entry in enumerate(feed.entries):
        label = item_label(entry, index)
        try:
            if parsed.kind == "youtube" or is_video_entry(entry):
                draft = entry_to_video(entry)
            else:
                draft = entry_to_briefing(entry)
            if draft.guid in seen:
                raise ItemRejected("duplicate", f"duplicate guid {draft.guid!r} in this feed (first one kept)")
        except ItemRejected as exc:
            parsed.rejections.append(Rejection(label, str(exc), exc.code))
            continue
        seen.add(draft.guid)
        parsed.items.append(replace(draft, origin=label))
    return parsed
