"""The allowlist the email applies to a briefing's body before trusting it as HTML.

Ingestion already sanitises feed HTML; this runs again at render time (it costs
microseconds) so a row written by an older ingester, an editor's hand-edit or a bug
upstream can never put active content into thousands of inboxes, nor an ``</mj-text>``
into the MJML. Only plain prose markup survives, with http(s)/mailto links.
"""

from __future__ import annotations

import re

import nh3

ALLOWED_TAGS = {
    "a", "p", "br", "strong", "b", "em", "i", "u", "s", "sub", "sup", "span", "code",
    "ul", "ol", "li", "blockquote", "h2", "h3", "h4", "hr", "figure", "figcaption", "img",
    "table", "thead", "tbody", "tr", "th", "td", "caption",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto"}
DROP_WITH_CONTENT = {"script", "style", "template", "noscript", "title", "textarea", "select"}

_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)", re.IGNORECASE)


def clean_body_html(html: str) -> str:
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    cleaned = _IMG_WITHOUT_SRC.sub("", cleaned)
    # Every image needs an alt attribute; an unknown one is decorative for a screen reader.
    return _IMG_WITHOUT_ALT.sub('<img alt=""', cleaned)
