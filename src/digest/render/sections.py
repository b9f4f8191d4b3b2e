"""Inline a body's skeleton section by section: each section's content once per process.

Bodies of one edition are different combinations of the same sections (the masthead, one
topic with its k cards, a row of videos, the footer...), so a skeleton as a whole is often
new while every one of its sections has been inlined before. Here the parsed skeleton is
cut in two levels:

* the *sections*: every element two levels under ``<body>`` (MJML's ``<div>`` per
  ``mj-section``, inside the page's ``<div>``) that has child elements. Each section's
  content (not the section element itself, which stays) is moved out of the page into a
  holder element of the same document and tag, and the section is left holding a
  placeholder text; its inlined content is cached (bounded LRU) under the inlined style
  block, the tags and kept classes of the section and its ancestors, and the content's
  serialisation (with the fragments it holds numbered from 0 within the section);
* the *frame* left over (head, preview text, the page's ``<div>``, the section elements
  and the MSO comments between them): masked and cached as the whole skeleton was before.

Nothing is re-parsed: the page is parsed once, as a whole, as premailer would parse it,
and a section's nodes are moved, never rebuilt. Why the result is the same bytes:

* Which rules apply to an element depends only on the element and its ancestors' tags and
  classes (the selector guard of :func:`digest.render.fragment_inline.ancestor_classes`),
  so premailer styles a section's nodes the same whether the rest of the page is there,
  and styles the frame the same whether the sections' contents are there. Premailer
  reads no text, so placeholders and masked texts change nothing it does.
* When anything misses, the missing sections' contents are put back in place and
  premailer runs once on the page (frame and missing sections): nothing is ever inlined
  outside the body it belongs to.
* libxml2 prints an element's children from the children alone and the tag of their parent
  (the newlines pretty-printing adds look at a node, its children, its next sibling and
  its parent's name). The holder has the section's tag and no attributes, and everything
  between ``<tag>`` and ``</tag>`` of its serialisation is what is cached; the frame prints
  ``<tag attrs>placeholder</tag>`` where the whole document prints ``<tag attrs>``, that
  content and ``</tag>``.
* A section holding a ``<style>``, ``<link>`` or ``<script>`` element is not cut (premailer
  reads those), and a cached content must hold each of its fragments' placeholders exactly
  once, or the body takes the whole-document path.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from lxml import etree

from .fragments import PLACEHOLDER, placeholder
from .lru import LRU

SECTION_PREFIX = "dgstsect"
#: Distinct sections of an edition: ~12 topics x up to 8 cards, video rows, a few blocks
#: (98 on the 1,000-selection benchmark).
SECTION_CACHE_SIZE = 1024
#: (style-block digest, chain, section digest) -> the section's content inlined, with its
#: fragments' placeholders numbered within the section. Shared by the process.
section_cache = LRU(SECTION_CACHE_SIZE)
_READ_BY_PREMAILER = ("style", "link", "script")


def section_placeholder(index: int) -> str:
    return f"{SECTION_PREFIX}{index}x"


class Cut:
    """One section: its element in the page, the holder its content is moved to, its
    cache key and, per local fragment number, the body's fragment index."""

    def __init__(self, element, fragments: tuple[int, ...], key: tuple) -> None:
        self.element = element
        self.fragments = fragments
        self.key = key
        self.holder = element.makeelement(element.tag, {})
        self.placeholder = ""

    def take_out(self, index: int) -> None:
        self.placeholder = section_placeholder(index)
        self.holder.text = self.element.text
        for child in list(self.element):
            self.holder.append(child)  # moves it, its tail with it
        self.element.text = self.placeholder

    def put_back(self) -> None:
        self.element.text = self.holder.text
        for child in list(self.holder):
            self.element.append(child)
        self.holder.text = None

    def serialise(self) -> str | None:
        """The holder's content as libxml2 prints it; None unless every fragment
        placeholder is there exactly once."""
        out = etree.tostring(self.holder, method="html", pretty_print=True, encoding="utf-8", with_tail=False)
        out = out.decode("utf-8")
        start, end = f"<{self.holder.tag}>", f"</{self.holder.tag}>"
        if not out.startswith(start) or end not in out:
            return None
        content = out[len(start): out.rindex(end)]
        if sorted(int(n) for n in PLACEHOLDER.findall(content)) != list(range(len(self.fragments))):
            return None
        return content

    def fill(self, content: str, inlined: dict[int, str]) -> str:
        return PLACEHOLDER.sub(lambda m: inlined[self.fragments[int(m.group(1))]], content)


def cut_sections(page, wrappers: dict[int, object], chain: Callable, head_digest: bytes) -> list[Cut]:
    """Every section of ``page`` (see the module docstring) with its fragments renumbered
    from 0 and its content taken out; ``wrappers`` maps fragment index -> its element."""
    body = page.find("body")
    if page.tag != "html" or body is None:
        return []
    sections = [
        element
        for child in body
        if isinstance(child.tag, str)
        for element in child
        if isinstance(element.tag, str)
        and len(element)
        and next(element.iter(*_READ_BY_PREMAILER), None) is None
    ]
    if not sections:
        return []
    wanted = {id(element): element for element in sections}
    inside: dict[int, list[int]] = {}
    for index in sorted(wrappers):
        for ancestor in wrappers[index].iterancestors():
            if id(ancestor) in wanted and wanted[id(ancestor)] is ancestor:
                inside.setdefault(id(ancestor), []).append(index)
                break
    cuts = []
    for element in sections:
        fragments = tuple(inside.get(id(element), ()))
        for local, index in enumerate(fragments):
            wrappers[index].text = placeholder(local)
        digest = hashlib.blake2b(
            etree.tostring(element, method="html", encoding="utf-8", with_tail=False), digest_size=16
        ).digest()
        cuts.append(Cut(element, fragments, (head_digest, chain(element), digest)))
    for index, cut in enumerate(cuts):
        cut.take_out(index)
    return cuts

