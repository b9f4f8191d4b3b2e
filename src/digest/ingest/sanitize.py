"""Feed HTML -> an email-safe fragment, and plain-text helpers.

nh3 (ammonia) parses the HTML like a browser does, so every spelling of an attack
(``JaVaScRiPt:``, ``&#106;avascript:``, unquoted attributes, broken tags) is seen the way
a mail client would see it. The allow-list is deliberately small: what an email body
needs and nothing active. Style attributes are dropped altogether (the template owns the
look; it also removes every ``url()`` and ``@import``), as are ids and classes.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import nh3

from ..textclean import clean_text

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt",
    "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li",
    "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "u", "ul",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Removed together with everything inside them (not just unwrapped).
DROP_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "applet", "form", "noscript", "template",
    "svg", "math", "select", "textarea", "button", "audio", "video", "canvas", "frameset", "frame",
})
EXCERPT_CHARS = 200

_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")
_EMPTY_IMG = re.compile(r"<img(?![^>]*\bsrc=)[^>]*>")
_SPACES = re.compile(r"\s+")


def sanitize_html(fragment: str, *, base_url: str | None = None) -> str:
    """Clean ``fragment`` to the allow-list; relative links resolve against ``base_url``
    (an http(s) URL) or are dropped, since an email has no base to resolve them against."""
    relative = ("rewrite_with_base", base_url) if safe_http_url(base_url) else "deny"
    cleaned = nh3.clean(
        clean_text(fragment),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative=relative,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    cleaned = _EMPTY_IMG.sub("", cleaned)  # its src was unsafe and removed
    return clean_text(_IMG_WITHOUT_ALT.sub('<img alt=""', cleaned).strip())


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


def safe_http_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host, else None."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ch in url for ch in "\x00\r\n\t <>\"'"):
        return None
    return url
