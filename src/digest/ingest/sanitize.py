"""Feed HTML -> an email-safe fragment, and plain-text helpers for excerpts.

The allow-list and the URL check are :mod:`digest.safe_html`'s, the same render applies
again where stored rows enter an email (it says why those tags). Here relative links are
resolved against the item's own link before they are checked.
"""

from __future__ import annotations

import html
import re

import nh3

from ..safe_html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, DROP_WITH_CONTENT, safe_http_url
#: Feed HTML -> the allow-list, relative links resolved against ``base_url`` (the item's link).
from ..safe_html import clean_html as sanitize_html
from ..textclean import clean_text

__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "html_to_text", "make_excerpt", "one_line", "safe_http_url",
           "sanitize_html"]

EXCERPT_CHARS = 200

_SPACES = re.compile(r"\s+")


def html_to_text(fragment: str) -> str:
    """The visible text of an HTML fragment, on one line, without the characters no email
    can carry (an entity such as ``&#x1;`` is one once unescaped)."""
    text = nh3.clean(clean_text(fragment), tags=set(), clean_content_tags=set(DROP_WITH_CONTENT))
    return _SPACES.sub(" ", clean_text(html.unescape(text))).strip()


def one_line(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Collapse whitespace and cut at a word boundary, with an ellipsis when cut."""
    text = _SPACES.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def make_excerpt(body_html: str, given: str | None = None) -> str:
    """A plain-text one-liner: the given excerpt (its tags removed) or the body's start."""
    source = html_to_text(given) if given else html_to_text(body_html)
    return one_line(source)
