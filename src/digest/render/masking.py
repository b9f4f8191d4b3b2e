"""Per-body texts of a skeleton (subject, preheader) masked, so skeletons of the same shape
are inlined once.

Once its fragments are cut out, a body's skeleton is the MJML scaffolding of its shape (how
many sections, cards, videos) plus the subject (``<title>``, the ``aria-label`` of the page)
and the preheader (the hidden preview text). Those are swapped for markers in the parsed
skeleton, which premailer then inlines once per shape; each marker is later replaced by its
value serialised by lxml in the same document, as it would have been printed in place.

Safe because premailer reads only ``class``/``style``/``id`` attributes and the style and
link elements, none of which are masked; text nodes it never reads.
"""

from __future__ import annotations

import re
from typing import Iterable

from lxml import etree

MASK_PREFIX = "dgstmask"
MASK = re.compile(MASK_PREFIX + r"(\d+)x")
_NEVER_MASKED_ATTRIBUTES = {"class", "style", "id"}
_NEVER_MASKED_ELEMENTS = {"style", "script", "link", "meta"}
_PROBE = "i"


def _marker(index: int) -> str:
    return f"{MASK_PREFIX}{index}x"


def _tostring(node) -> str:
    return etree.tostring(node, method="html", encoding="utf-8", with_tail=False).decode("utf-8")


class _Escaper:
    """How lxml prints a value as text, or as a given attribute, in this document."""

    def __init__(self, page) -> None:
        self.host = page

    def text(self, value: str) -> str | None:
        probe = etree.SubElement(self.host, _PROBE)
        try:
            probe.text = value
            out = _tostring(probe)
        finally:
            self.host.remove(probe)
        start, end = f"<{_PROBE}>", f"</{_PROBE}>"
        return out[len(start): -len(end)] if out.startswith(start) and out.endswith(end) else None

    def attribute(self, name: str, value: str) -> str | None:
        probe = etree.SubElement(self.host, _PROBE)
        try:
            probe.set(name, value)
            out = _tostring(probe)
        except ValueError:  # a name lxml will not set on a new element: leave it unmasked
            return None
        finally:
            self.host.remove(probe)
        start, end = f'<{_PROBE} {name}="', f'"></{_PROBE}>'
        return out[len(start): -len(end)] if out.startswith(start) and out.endswith(end) else None


def mask(page, values: Iterable[str]) -> list[str]:
    """Replace in ``page`` each text node and attribute value equal to one of ``values`` by a
    marker; returns, per marker index, what lxml would have printed there."""
    wanted = {v for v in values if v and v.strip()}
    if not wanted:
        return []
    escaper = _Escaper(page)
    printed: list[str] = []
    markers: dict[tuple, str | None] = {}

    def marker_for(kind: tuple, escape) -> str | None:
        if kind not in markers:
            escaped = escape()
            markers[kind] = None if escaped is None else _marker(len(printed))
            if escaped is not None:
                printed.append(escaped)
        return markers[kind]

    for node in list(page.iter()):  # the escaper adds and removes a probe element
        element = isinstance(node.tag, str)
        if node.tail in wanted:
            value = node.tail
            node.tail = marker_for(("text", value), lambda: escaper.text(value)) or value
        if not element or node.tag in _NEVER_MASKED_ELEMENTS:
            continue
        if node.text in wanted:
            value = node.text
            node.text = marker_for(("text", value), lambda: escaper.text(value)) or value
        for name, value in node.attrib.items():
            if value in wanted and name not in _NEVER_MASKED_ATTRIBUTES and isinstance(name, str):
                node.set(name, marker_for(("attr", name, value), lambda: escaper.attribute(name, value)) or value)
    return printed
