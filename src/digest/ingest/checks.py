"""Checks every feed item passes before it becomes a draft, with the reason it failed.

Decisions (they show in the ingest summary):

* **Dates.** An item needs a date the parser understands (RSS ``pubDate``, Atom
  ``published`` or ``updated``). One without, or with an unparseable date, is
  *rejected*: selection is driven by publication time, and inventing one (the fetch
  time) would slip an old piece into today's email.
* **Future dates** are stored with their date as given. Selection only takes items
  published before the edition is built, so a future-dated item waits for its time;
  the summary counts them so an editor can spot a wrong year.
* **Size.** A body over :data:`MAX_BODY_CHARS` is *rejected*, not truncated: a cut
  body could lose the disclosure paragraphs at its end.
* **Identity.** An item needs a title and a guid or an http(s) link. The first item of
  a guid in one feed wins; later ones are rejected as duplicates.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timezone
from typing import Any

from .sanitize import html_to_text, one_line, safe_http_url

MAX_BODY_CHARS = 1_000_000
MAX_GUID_CHARS = 1000
MAX_TITLE_CHARS = 500


class ItemRejected(Exception):
    """One item is turned away; the message is the reason shown in the summary."""


def item_label(entry: Any, index: int) -> str:
    for key in ("title", "id", "link"):
        value = entry.get(key)
        if value and str(value).strip():
            return one_line(html_to_text(str(value)), 120)
    return f"item #{index + 1}"


def item_title(entry: Any) -> str:
    title = one_line(html_to_text(entry.get("title") or ""), MAX_TITLE_CHARS)
    if not title:
        raise ItemRejected("no title")
    return title


def item_identity(entry: Any) -> tuple[str, str | None]:
    """(guid, safe link). The guid falls back to the link."""
    raw_link = (entry.get("link") or "").strip()
    link = safe_http_url(raw_link)
    guid = (entry.get("id") or "").strip() or link
    if not guid:
        if raw_link:
            raise ItemRejected(f"no guid, and the link {one_line(raw_link, 80)!r} is not an http(s) URL")
        raise ItemRejected("no guid and no link")
    if len(guid) > MAX_GUID_CHARS:
        raise ItemRejected(f"guid longer than {MAX_GUID_CHARS} characters")
    return guid, link


def item_date(entry: Any) -> datetime:
    """Publication time as aware UTC (feedparser's ``*_parsed`` values are UTC).

    Reads the raw dict: feedparser's own ``updated`` -> ``published`` aliasing is
    deprecated and warns.
    """
    for key in ("published", "updated", "created"):
        parsed = dict.get(entry, f"{key}_parsed")
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
            except (OverflowError, ValueError, OSError):
                raise ItemRejected(f"date {entry.get(key)!r} is out of range") from None
    for key in ("published", "updated", "created"):
        raw = dict.get(entry, key)
        if raw:
            raise ItemRejected(f"unparseable date {one_line(str(raw), 60)!r}")
    raise ItemRejected("no date")


def check_body_size(body: str) -> None:
    if len(body) > MAX_BODY_CHARS:
        raise ItemRejected(
            f"body is {len(body) / 1_000_000:.1f} MB, over the {MAX_BODY_CHARS // 1_000_000} MB limit"
        )
