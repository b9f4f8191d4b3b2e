"""Cut a compiled body into a skeleton and its fragments: the content of each ``<mj-text>``.

MRML prints an mj-text's content inside the ``<div>`` it makes for the mj-text, and prints
it the same wherever the mj-text is (it re-prints the content: whitespace between tags is
dropped, so the HTML is not the MJML text). What it prints is found by compiling the
content alone in a one-text probe document (cached per content), then looked up in the
body's HTML in document order. Only a content found right inside a ``<div ...>`` and
followed by ``</div>`` becomes a fragment; anything else simply stays in the skeleton,
which is always correct (the skeleton is inlined as a whole document).

Replacing the fragments by their placeholders and back gives the body's HTML again, byte
for byte: the split never changes the HTML, only what premailer sees at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mjml import mjml2html

PLACEHOLDER_PREFIX = "dgstfrag"
PLACEHOLDER = re.compile(PLACEHOLDER_PREFIX + r"(\d+)x")
#: Shorter contents (section headings, the masthead) stay in the skeleton: nothing to gain,
#: and a short string is more likely to be found in the wrong place.
MIN_FRAGMENT = 64
CACHE_SIZE = 4096

_MJ_TEXT_OPEN = re.compile(r"<mj-text\b[^>]*(?<!/)>")
_MJ_TEXT_CLOSE = "</mj-text>"
_DIV_OPEN_BEFORE = re.compile(r"<div\b[^<>]*>\Z")
_PROBE_OPEN = "<mjml><mj-body><mj-section><mj-column><mj-text>"
_PROBE_CLOSE = "</mj-text></mj-column></mj-section></mj-body></mjml>"
_PROBE_MARK = "digestprobemark"
#: Never cut out: these would change what the style-block regexes of inline.py see.
_NOT_IN_FRAGMENT = ("<style", "</style", "<!doctype", PLACEHOLDER_PREFIX)


def placeholder(index: int) -> str:
    return f"{PLACEHOLDER_PREFIX}{index}x"


def _compile(content: str) -> str:
    return mjml2html(_PROBE_OPEN + content + _PROBE_CLOSE, fonts={}, disable_comments=False)


@lru_cache(maxsize=1)
def _probe_edges() -> tuple[str, str]:
    prefix, suffix = _compile(_PROBE_MARK).split(_PROBE_MARK)
    return prefix, suffix


@lru_cache(maxsize=CACHE_SIZE)
def printed_content(content: str) -> str | None:
    """What MRML prints for an mj-text whose content is ``content``; None if unsure."""
    prefix, suffix = _probe_edges()
    try:
        html = _compile(content)
    except Exception:  # the whole body compiled, so this is MRML disliking the probe: skip it
        return None
    if len(html) < len(prefix) + len(suffix) or not (html.startswith(prefix) and html.endswith(suffix)):
        return None
    return html[len(prefix): len(html) - len(suffix)]


@lru_cache(maxsize=CACHE_SIZE)
def cuttable_content(content: str) -> str | None:
    """:func:`printed_content`, or None when it is too short or holds what must never be
    cut out (see ``_NOT_IN_FRAGMENT``)."""
    printed = printed_content(content)
    if printed is None or len(printed) < MIN_FRAGMENT:
        return None
    lowered = printed.lower()
    if any(needle in lowered for needle in _NOT_IN_FRAGMENT):
        return None
    return printed


@dataclass(frozen=True)
class Split:
    """``skeleton`` with ``placeholder(i)`` standing for ``fragments[i]``."""

    skeleton: str
    fragments: tuple[str, ...]

    def join(self) -> str:
        return PLACEHOLDER.sub(lambda m: self.fragments[int(m.group(1))], self.skeleton)


def _mj_text_contents(source: str):
    """What ``<mj-text ...>(.*?)</mj-text>`` (DOTALL) finds, in order, without the regex
    engine stepping through every character of every card."""
    pos = 0
    while True:
        opening = _MJ_TEXT_OPEN.search(source, pos)
        if opening is None:
            return
        end = source.find(_MJ_TEXT_CLOSE, opening.end())
        if end < 0:
            return
        yield source[opening.end(): end]
        pos = end + len(_MJ_TEXT_CLOSE)


def split(source: str, html: str) -> Split:
    """The body ``html`` compiled from the MJML ``source``, cut at its mj-text contents."""
    if PLACEHOLDER_PREFIX in html:
        return Split(html, ())
    pieces: list[str] = []
    fragments: list[str] = []
    pos = 0
    for content in _mj_text_contents(source):
        printed = cuttable_content(content)
        if printed is None:
            continue
        at = html.find(printed, pos)
        end = at + len(printed)
        if at < 0 or not html.startswith("</div>", end) or not _DIV_OPEN_BEFORE.search(html, max(pos, at - 1000), at):
            continue
        pieces.append(html[pos:at])
        pieces.append(placeholder(len(fragments)))
        fragments.append(printed)
        pos = end
    pieces.append(html[pos:])
    return Split("".join(pieces), tuple(fragments))
