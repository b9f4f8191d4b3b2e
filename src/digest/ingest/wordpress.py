"""RSS 2.0 / Atom entries as briefings, WordPress flavour.

WordPress puts the full post in ``content:encoded`` (feedparser: ``entry.content``), the
author in ``dc:creator`` (``entry.author``) and categories in ``<category>``
(``entry.tags``); ``description`` is a short excerpt. Plain RSS and Atom feeds take the
same path: whatever fields they lack stay empty.
"""

from __future__ import annotations

from typing import Any

from .checks import check_body_size, item_date, item_identity, item_title
from .disclosures import extract_disclosures
from .drafts import BriefingDraft
from .sanitize import html_to_text, make_excerpt, one_line, sanitize_html

#: Categories that mark an editor's pick ("Recommended" block), compared case-insensitively.
EDITOR_PICK_CATEGORIES = frozenset({"editor's pick", "editors' pick", "editors pick", "editor pick",
                                    "editor's picks", "recommended"})


def entry_categories(entry: Any) -> tuple[str, ...]:
    terms = (one_line(html_to_text(t.get("term") or t.get("label") or ""), 100) for t in entry.get("tags") or ())
    return tuple(dict.fromkeys(t for t in terms if t))


def _full_body(entry: Any) -> str:
    contents = entry.get("content") or []
    html_parts = [c for c in contents if "html" in (c.get("type") or "")]
    chosen = (html_parts or contents)
    if chosen:
        return chosen[0].get("value") or ""
    return entry.get("summary") or ""


def entry_to_briefing(entry: Any) -> BriefingDraft:
    guid, link = item_identity(entry)
    published = item_date(entry)
    raw_body = _full_body(entry)
    check_body_size(raw_body)
    body, found = extract_disclosures(sanitize_html(raw_body, base_url=link))
    title = item_title(entry, html_to_text(body))
    summary = entry.get("summary") or ""
    given_excerpt = summary if entry.get("content") and summary.strip() else None
    categories = entry_categories(entry)
    author = html_to_text(entry.get("author") or "") or None
    return BriefingDraft(
        guid=guid,
        title=title,
        published_at=published,
        url=link,
        body_html=body,
        excerpt=make_excerpt(body, given_excerpt and sanitize_html(given_excerpt)),
        author=author,
        attribution=found.attribution,
        author_disclosure=found.author_disclosure,
        sponsor=found.sponsor,
        is_editor_pick=any(c.casefold() in EDITOR_PICK_CATEGORIES for c in categories),
        categories=categories,
    )
