"""Helpers for the plain-text part: body HTML to readable text, and line wrapping."""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser

from ..safe_html import clean_html

WIDTH = 76
_BLOCKS = {"p", "div", "blockquote", "h2", "h3", "h4", "ul", "ol", "table", "tr", "figure", "hr"}


class _TextExtractor(HTMLParser):
    """Paragraphs become blank-line separated blocks, list items ``- ``, links ``text (url)``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, bool]] = []  # (text, is a list item)
        self._current: list[str] = []
        self._href: str | None = None
        self._link_text: list[str] = []

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._current)).strip()
        if text and text != "-":
            self.blocks.append((text, text.startswith("- ")))
        self._current = []

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCKS or tag in ("li", "br"):
            self._flush()
            if tag == "li":
                self._current.append("- ")
        elif tag in ("td", "th"):
            self._current.append(" ")
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._link_text = []
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._current.append(f"[{alt}]")

    def handle_endtag(self, tag):
        if tag in _BLOCKS or tag == "li":
            self._flush()
        elif tag == "a" and self._href is not None:
            text = "".join(self._link_text).strip()
            if self._href not in text and not self._href.startswith("mailto:"):
                self._current.append(f" ({self._href})")
            self._href = None

    def handle_data(self, data):
        self._current.append(data)
        if self._href is not None:
            self._link_text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def html_to_text(html: str) -> str:
    """Readable plain text of a briefing body, wrapped, paragraphs separated by a blank line."""
    parser = _TextExtractor()
    parser.feed(clean_html(html))
    parser.close()
    out: list[str] = []
    previous_item = False
    for text, is_item in parser.blocks:
        if out:
            out.append("\n" if is_item and previous_item else "\n\n")
        out.append(wrap(text))
        previous_item = is_item
    return "".join(out)


def wrap(text: str, width: int = WIDTH) -> str:
    """Wrap without breaking URLs or hyphenated words (a broken URL stops working)."""
    return "\n".join(
        textwrap.fill(line, width=width, break_long_words=False, break_on_hyphens=False) or ""
        for line in str(text).splitlines()
    )
