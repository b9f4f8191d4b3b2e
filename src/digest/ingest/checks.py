"""Checks every feed item passes before it becomes a draft, with the reason it failed.

Decisions (they show in the ingest summary; every refusal code is in :mod:`.refusals`):

* **Dates.** RSS ``pubDate``, Atom ``published`` or ``updated``, read by feedparser and
  python-dateutil (:mod:`.dates`). An item with *no* date is kept and dated when first seen
  (:func:`digest.ingest.run` decides, since a source's first fetch is different); one whose
  date no parser reads is refused (``bad-date``): a date in the wrong field or language is
  more likely than news, and guessing could slip an old piece into today's email.
* **Future dates** are stored with their date as given. Selection only takes items
  published before the edition is built, so a future-dated item waits for its time;
  the summary counts them so an editor can spot a wrong year.
* **Size.** A body over :data:`MAX_BODY_CHARS` is refused, not truncated: a cut
  body could lose the disclosure paragraphs at its end.
* **Identity.** An item needs a guid or an http(s) link. The first item of a guid in one
  feed wins; later ones are refused as duplicates.
* **Titles.** An item without one (a microblog post, Dave Winer's feed) gets the first
  sentence of its text, as feed readers show it; with no text either it is refused.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone
from typing import Any

from ..textclean import clean_text
from .refusals import ItemRejected
from .sanitize import html_to_text, one_line, safe_http_url

__all__ = ["ItemRejected", "MAX_BODY_CHARS", "TITLE_FROM_TEXT_CHARS", "check_body_size", "item_date",
           "item_identity", "item_label", "item_title", "title_from_text"]

MAX_BODY_CHARS = 1_000_000
#: A title made from an item's text: its first sentence, at most this long (a headline).
TITLE_FROM_TEXT_CHARS = 120
#: The end of a sentence: . ! ? (or an ellipsis) then a space and what starts a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]?\s+(?=[\"'“‘(\[]?[A-Z0-9À-Þ])")


def item_label(entry: Any, index: int) -> str:
    for key in ("title", "id", "link"):
        value = entry.get(key)
        if value and str(value).strip():
            label = one_line(html_to_text(str(value)), 120)
            if label:
                return label
    return f"item #{index + 1}"


def title_from_text(text: str) -> str:
    """The first sentence of ``text`` (plain), shortened at a word to a headline's length."""
    first = _SENTENCE_END.split(" ".join(text.split()), maxsplit=1)[0]
    return one_line(first, TITLE_FROM_TEXT_CHARS)


def item_title(entry: Any, text: str = "") -> str:
    """The entry's title, else the first sentence of ``text`` (its body, as plain text)."""
    title = html_to_text(entry.get("title") or "") or title_from_text(text)
    if not title:
        raise ItemRejected("no-title", "no title, and no text to make one from")
    return title


def item_identity(entry: Any) -> tuple[str, str | None]:
    """(guid, safe link). The guid falls back to the link."""
    raw_link = clean_text((entry.get("link") or "").strip())
    link = safe_http_url(raw_link)
    guid = clean_text((entry.get("id") or "").strip()) or link
    if not guid:
        if raw_link:
            raise ItemRejected("no-id", f"no guid, and the link {one_line(raw_link, 80)!r} is not an http(s) URL")
        raise ItemRejected("no-id", "no guid and no link")
    return guid, link


def item_date(entry: Any) -> datetime | None:
    """Publication time as aware UTC (feedparser's ``*_parsed`` values are UTC); None when
    the entry has no date at all.

    Reads the raw dict: feedparser's own ``updated`` -> ``published`` aliasing is
    deprecated and warns.
    """
    for key in ("published", "updated", "created"):
        parsed = dict.get(entry, f"{key}_parsed")
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
            except (OverflowError, ValueError, OSError):
                raise ItemRejected("bad-date", f"date {one_line(clean_text(str(entry.get(key))), 60)!r} "
                                   "is out of range") from None
    for key in ("published", "updated", "created"):
        raw = dict.get(entry, key)
        if raw and str(raw).strip():
            raise ItemRejected("bad-date", f"unparseable date {one_line(clean_text(str(raw)), 60)!r}")
    return None


def check_body_size(body: str) -> None:
    if len(body) > MAX_BODY_CHARS:
        raise ItemRejected(
            "body-too-big",
            f"body is {len(body) / 1_000_000:.1f} MB, over the {MAX_BODY_CHARS // 1_000_000} MB limit",
        )
