"""What HTML and which links an email may carry: one allow-list and one URL check,
applied by ingest (before a briefing is stored) and again by render (where stored rows
enter an email, so a row written by an older ingester, an editor's hand-edit or a bug
upstream can never put active content into thousands of inboxes).

nh3 (ammonia) parses the HTML as a browser does, so every spelling of an attack
(``JaVaScRiPt:``, ``&#106;avascript:``, unquoted attributes, broken tags) is seen the way
a mail client would see it; every tag it keeps is closed, so no ``</mj-text>`` can reach
the MJML.

Why this list. Ingest used to keep 44 tags and render 31; render cleaned last, so the 31
were all that ever reached an inbox. They are kept: plain prose markup that Gmail,
Outlook (Word's engine) and Apple Mail all render the same. The 13 ingest had besides go:
``pre`` does not wrap and pushes a phone's layout sideways, ``dl``/``dd``/``dt``, ``q``,
``cite``, ``abbr``, ``del``/``ins``, ``small``, ``h5``/``h6`` and ``tfoot`` render
unevenly across clients and carry nothing a briefing needs (their text is kept). Images
keep ``src``, ``alt`` and ``title``, not their size: a feed's ``width="1600"`` would push
the layout out (the template sizes images). Only the attributes listed are kept (nh3 would
keep ``title`` and ``lang`` on any tag). Styles, ids and classes go too: the template owns the look, and
with ``style`` go every ``url()`` and ``@import``. Links only to http(s) and mailto.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

import nh3

from .textclean import clean_text

ALLOWED_TAGS = frozenset({
    "a", "p", "br", "strong", "b", "em", "i", "u", "s", "sub", "sup", "span", "code",
    "ul", "ol", "li", "blockquote", "h2", "h3", "h4", "hr", "figure", "figcaption", "img",
    "table", "thead", "tbody", "tr", "th", "td", "caption",
})
ALLOWED_ATTRIBUTES = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Removed together with everything inside them (not just unwrapped).
DROP_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "applet", "form", "noscript", "template",
    "svg", "math", "select", "textarea", "button", "audio", "video", "canvas", "frameset", "frame",
    "title",
})

_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)", re.IGNORECASE)
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_NOT_IN_A_URL = re.compile(r"[\x00-\x20\x7f<>\"']")


def clean_html(fragment: str, *, base_url: str | None = None) -> str:
    """``fragment`` cut down to the allow-list. Relative links resolve against
    ``base_url`` (an http(s) URL) or are dropped: an email has no base to resolve them
    against. Every image gets an ``alt`` (empty: decorative for a screen reader); an image
    whose ``src`` was unsafe is removed."""
    relative = ("rewrite_with_base", base_url) if safe_http_url(base_url) else "deny"
    cleaned = nh3.clean(
        clean_text(fragment),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        # "*": no attribute on every tag (nh3 would keep title and lang anywhere): only what is listed.
        attributes={"*": set()} | {tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative=relative,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    cleaned = _IMG_WITHOUT_SRC.sub("", cleaned)
    return clean_text(_IMG_WITHOUT_ALT.sub('<img alt=""', cleaned).strip())


@lru_cache(maxsize=16384)  # an edition's bodies ask again and again for the same items' links
def safe_http_url(url: str | None) -> str | None:
    """``url`` (without surrounding whitespace) if it is an absolute http(s) URL with a
    host and nothing a link cannot hold (spaces, controls, quotes, angle brackets); else None."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if _NOT_IN_A_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url
