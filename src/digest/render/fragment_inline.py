"""Inline a body's CSS fragment by fragment: each repeated piece is inlined once per process.

Almost every briefing card, video and footer of an edition is in hundreds of bodies, and
premailer spent most of each render restyling them. Here the body is cut at its mj-text
contents (:mod:`digest.render.fragments`); the skeleton left over is parsed as a whole
document and inlined section by section (:mod:`digest.render.sections`: each section's
content and the frame around them cached), and each fragment is inlined in a small
stand-in document that reproduces its place in the body, then cached (bounded LRU) under
its content and that place. A stand-in whose top-level elements have all been inlined
before gets their recorded attributes instead of a premailer run
(:mod:`digest.render.replay`).

Worst-case memory of these process-local caches (each a bounded LRU, per worker process):
fragments 4,096 x <= ~6 KB, frames 1,024 x ~9 KB (they were whole skeletons of ~30-40 KB),
sections 1,024 x <= ~25 KB, element records 4,096 x ~2 KB: under ~70 MB in all. The
1,000-selection benchmark fills ~2.5 MB (1,004 fragments, 21 frames, 98 sections, 360
records). fragments.py adds a second 4,096-entry cache of probe results (the usable ones).

Why that gives the same bytes as inlining the whole document:

* Which rule applies to an element depends only on the element and its ancestors when
  every selector of the inlined block is built from tag and class names joined by
  descendant or child combinators (:func:`ancestor_classes` checks that; any other block
  makes every body take the whole-document path). The stand-in document repeats the tag
  of every ancestor and those of its classes the selectors look at above an element, so
  the same rules match, in the same order.
* lxml's HTML parser decides from the stack of open tags, which the stand-in repeats; a
  sentinel element after the fragment proves the fragment closed exactly where it should
  (an unbalanced fragment is left in the skeleton instead, so it is inlined in place).
* libxml2 serialises a fragment's nodes from the fragment and the tag of the element
  around it alone; the stand-in's wrapper has the same tag, and its inner serialisation
  (including the newlines pretty-printing puts inside it) is what is cached.

``tests/render/test_fast_path_equivalence.py`` compares this path with
:func:`digest.render.inline.inline_css` on the whole document, byte for byte.
"""

from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache
from typing import Iterable

from lxml import etree

from .fragments import PLACEHOLDER, Split, placeholder, split
from .lru import LRU
from .masking import MASK_PREFIX, mask
from .replay import attribute_cache, record, replay, subtree_key
from .sections import SECTION_PREFIX, cut_sections, section_cache
from .inline import _STYLE_OPEN, INLINE_MARKER, align_floating_images, finish, inline_css, make_premailer, prepare

log = logging.getLogger(__name__)

CACHE_SIZE = 4096
SKELETON_CACHE_SIZE = 1024
SENTINEL_CLASS = "dgstsentinel"
#: Parses of the skeleton before giving up on fragments for a body (each failure puts
#: fragments back; a second failure in one body is not worth a third try).
MAX_ATTEMPTS = 3

Chain = tuple[tuple[str, str], ...]  # (tag, the classes that matter) from <html> down to the wrapper

_COMMENTS = re.compile(r"/\*.*?\*/", re.DOTALL)
_COMPOUND = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9]*)?(?:\.[a-zA-Z_-][a-zA-Z0-9_-]*)*$")
_CLASS = re.compile(r"\.([a-zA-Z_-][a-zA-Z0-9_-]*)")
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


@lru_cache(maxsize=16)
def ancestor_classes(css: str) -> frozenset[str] | None:
    """Classes the selectors of ``css`` require of an ancestor; None when a selector could
    depend on anything but an element's own tag and classes and its ancestors' (ids,
    attributes, pseudo-classes, siblings, ``*``, at-rules): then only whole documents are safe."""
    css = _COMMENTS.sub("", css)
    if "@" in css or "\\" in css:
        return None
    classes: set[str] = set()
    blocks = css.split("}")
    if blocks[-1].strip():
        return None
    for block in blocks[:-1]:
        if block.count("{") != 1:
            return None
        selectors = block.split("{")[0]
        for selector in selectors.split(","):
            compounds = selector.replace(">", " ").split()
            if not compounds or not all(_COMPOUND.match(c) and c for c in compounds):
                return None
            for compound in compounds[:-1]:
                classes.update(_CLASS.findall(compound))
    return frozenset(classes)


#: digest of a parsed, masked skeleton -> that skeleton inlined and finished (markers kept).
skeleton_cache = LRU(SKELETON_CACHE_SIZE)
_FILL = re.compile(r"dgst(frag|mask|sect)(\d+)x")
#: (stand-in head digest, chain, fragment digest) -> the fragment inlined, or None when it
#: cannot be inlined on its own (then it stays in the skeleton). Shared by the process.
fragment_cache = LRU(CACHE_SIZE)
_MISSING = object()


def _serialise(node) -> str:
    return etree.tostring(node, method="html", pretty_print=True, encoding="utf-8").decode("utf-8")


def _parse(html: str):
    """As premailer parses a document given as a string; returns (page, what it serialises)."""
    stripped = html.strip()
    tree = etree.fromstring(stripped, etree.HTMLParser()).getroottree()
    page = tree.getroot()
    # premailer serialises the tree (with its doctype) only when the source starts with it
    # exactly as lxml spells it; else the root element.
    return page, (tree if stripped.startswith(tree.docinfo.doctype) else page)


def _start_tag(tag: str, classes: str) -> str:
    return f'<{tag} class="{classes}">' if classes else f"<{tag}>"


class _Document:
    """One body being inlined: its marked style block and where each fragment sits."""

    def __init__(self, html: str, keep: frozenset[str]) -> None:
        self.keep = keep
        self._chains: dict[int, tuple[object, Chain]] = {}
        blocks = [m.group(0) for m in _STYLE_OPEN.finditer(html) if INLINE_MARKER in m.group(2)]
        head_end = _HEAD_END.search(html)
        self.ok = len(blocks) == 1 and head_end is not None
        if not self.ok:
            return
        metas = "".join(_META.findall(html, 0, head_end.start()))
        self.head = f"<head>{metas}{blocks[0]}</head>"
        self.head_digest = hashlib.blake2b(self.head.encode(), digest_size=16).digest()

    def chain(self, element) -> Chain:
        """(tag, kept classes) of ``element`` and its ancestors, from the root down;
        memoised per element for this body (cards of a section share their ancestors)."""
        found = self._chains.get(id(element))
        if found is not None and found[0] is element:
            return found[1]
        parent = element.getparent()
        own = (element.tag, " ".join(c for c in (element.get("class") or "").split() if c in self.keep))
        chain = (own,) if parent is None else (*self.chain(parent), own)
        self._chains[id(element)] = (element, chain)  # holds the proxy: its id stays its own
        return chain

    def key(self, chain: Chain, fragment: str) -> tuple:
        return (self.head_digest, chain, hashlib.blake2b(fragment.encode(), digest_size=16).digest())

    # ------------------------------------------------------------ stand-in documents

    def inline_fragments(self, items: list[tuple[Chain, str]]) -> list[str | None]:
        """Each (chain, fragment) inlined in one stand-in document; None where unsafe."""
        if not items:
            return []
        results = self._stand_in(items)
        if results is None:  # something did not close where it should: find which one
            results = [(self._stand_in([item]) or [None])[0] for item in items] if len(items) > 1 else [None]
        return results

    def _stand_in(self, items: list[tuple[Chain, str]]) -> list[str | None] | None:
        html_tag, body_tag = items[0][0][0], items[0][0][1]
        if any(chain[:2] != (html_tag, body_tag) or len(chain) < 3 for chain, _ in items):
            return None
        if html_tag[0] != "html" or body_tag[0] != "body":
            return None
        parts = ["<!doctype html>", _start_tag(*html_tag), self.head, _start_tag(*body_tag)]
        for chain, fragment in items:
            inner = chain[2:]
            parts.extend(_start_tag(tag, classes) for tag, classes in inner)
            parts.append(fragment)
            parts.append(f'</{inner[-1][0]}><span class="{SENTINEL_CLASS}"></span>')
            parts.extend(f"</{tag}>" for tag, _ in reversed(inner[:-1]))
        parts.append(f"</{body_tag[0]}></{html_tag[0]}>")
        try:
            page, _ = _parse("".join(parts))
        except (etree.LxmlError, ValueError):
            return None
        sentinels = [el for el in page.iter("span") if el.get("class") == SENTINEL_CLASS]
        if len(sentinels) != len(items):
            return None
        wrappers = []
        for sentinel, (chain, _) in zip(sentinels, items):
            wrapper = sentinel.getprevious()
            if (
                wrapper is None
                or sentinel.getnext() is not None
                or wrapper.getprevious() is not None
                or wrapper.getparent() is not sentinel.getparent()
                or tuple(node.tag for node in (*reversed(list(wrapper.iterancestors())), wrapper))
                != tuple(tag for tag, _ in chain)
            ):
                return None
            wrappers.append(wrapper)
        self._transform(page, [(wrapper, chain) for wrapper, (chain, _) in zip(wrappers, items)])
        results: list[str | None] = []
        for wrapper in wrappers:
            wrapper.attrib.clear()  # its own attributes are the skeleton's business
            wrapper.tail = None
            out = etree.tostring(wrapper, method="html", pretty_print=True, encoding="utf-8", with_tail=False)
            out = out.decode("utf-8")
            start, end = f"<{wrapper.tag}>", f"</{wrapper.tag}>"
            if not out.startswith(start) or end not in out:
                results.append(None)
                continue
            results.append(out[len(start): out.rindex(end)])
        return results


    def _transform(self, page, wrappers: list[tuple[object, Chain]]) -> None:
        """premailer on the stand-in ``page``, or, when every child element of every
        wrapper has been inlined before, its recorded effect (see :mod:`.replay`)."""
        pieces = [
            (child, subtree_key(self.head_digest, chain, child))
            for wrapper, chain in wrappers
            for child in wrapper
            if isinstance(child.tag, str)
        ]
        recorded = [attribute_cache.get(key) for _, key in pieces]
        if all(attributes is not None for attributes in recorded) and replay(
            [(child, attributes) for (child, _), attributes in zip(pieces, recorded)]
        ):
            return
        make_premailer(None, align_floating_images=False).transform(page)
        align_floating_images(page)
        for child, key in pieces:
            attribute_cache.put(key, record(child))


def _cut(split_: Split, back: set[int]) -> str:
    """The skeleton with the fragments in ``back`` put back in place."""
    if not back:
        return split_.skeleton
    return PLACEHOLDER.sub(
        lambda m: split_.fragments[int(m.group(1))] if int(m.group(1)) in back else m.group(0), split_.skeleton
    )


def _placeholders(page) -> dict[int, object]:
    found: dict[int, object] = {}
    for text in page.xpath("//text()[starts-with(., 'dgstfrag')]"):
        match = PLACEHOLDER.fullmatch(str(text))
        parent = text.getparent()
        if match and text.is_text and len(parent) == 0:
            found[int(match.group(1))] = parent
    return found


def _inline_all(document: _Document, split_: Split, wrappers: dict[int, object]) -> tuple[dict[int, str], set[int]]:
    """Every fragment inlined (from the cache, or all misses in one stand-in document)."""
    inlined: dict[int, str] = {}
    failed: set[int] = set()
    misses: list[tuple[int, Chain, tuple]] = []
    for index, wrapper in wrappers.items():
        chain = document.chain(wrapper)
        key = document.key(chain, split_.fragments[index])
        cached = fragment_cache.get(key, _MISSING)
        if cached is _MISSING:
            misses.append((index, chain, key))
        elif cached is None:
            failed.add(index)
        else:
            inlined[index] = cached
    results = document.inline_fragments([(chain, split_.fragments[i]) for i, chain, _ in misses])
    for (index, _, key), result in zip(misses, results):
        fragment_cache.put(key, result)
        if result is None:
            failed.add(index)
        else:
            inlined[index] = result
    return inlined, failed


def inline_body(source: str, html: str, masks: Iterable[str] = ()) -> str:
    """:func:`digest.render.inline.inline_css` of ``html`` (compiled from the MJML
    ``source``), with each fragment inlined once per process, each section of the skeleton
    once, and the frame around the sections once per shape with the texts in ``masks``
    (the subject and preheader) masked."""
    if MASK_PREFIX in html or SECTION_PREFIX in html:
        return inline_css(html)  # markers must not be confused with the body's own text
    prepared = prepare(html)
    keep = None
    for match in _STYLE_OPEN.finditer(prepared):
        if INLINE_MARKER in match.group(2):
            keep = ancestor_classes(match.group(2))
    if keep is None:
        return inline_css(html)
    document = _Document(prepared, keep)
    if not document.ok:
        return inline_css(html)
    split_ = split(source, prepared)
    if not split_.fragments:
        return inline_css(html)

    back: set[int] = set()  # fragments put back into the skeleton (inlined in place)
    for _attempt in range(MAX_ATTEMPTS):
        page, root = _parse(_cut(split_, back))
        wrappers = _placeholders(page)
        pending = set(range(len(split_.fragments))) - back
        if set(wrappers) != pending:  # a placeholder not alone in its element: put it back
            back |= pending - set(wrappers)
            continue
        inlined, failed = _inline_all(document, split_, wrappers)
        if not failed:
            break
        back |= failed
    else:
        return inline_css(html)

    cuts = cut_sections(page, wrappers, document.chain, document.head_digest)
    printed = mask(page, masks)
    key = hashlib.blake2b(etree.tostring(root, method="html", encoding="utf-8"), digest_size=16).digest()
    out = skeleton_cache.get(key)
    contents = [section_cache.get(cut.key) for cut in cuts]
    missing = [i for i, content in enumerate(contents) if content is None]
    if out is None or missing:
        for i in missing:
            cuts[i].put_back()
        make_premailer(None, align_floating_images=False).transform(page)
        align_floating_images(page)
        for i in missing:
            cuts[i].take_out(i)
            contents[i] = cuts[i].serialise()
            if contents[i] is None:
                return inline_css(html)
            section_cache.put(cuts[i].key, contents[i])
        if out is None:
            out = finish(_serialise(root))
            in_sections = {index for cut in cuts for index in cut.fragments}
            if any(out.count(placeholder(i)) != 1 for i in inlined if i not in in_sections) or any(
                out.count(cut.placeholder) != 1 for cut in cuts
            ):
                return inline_css(html)
            skeleton_cache.put(key, out)
    filled = [cut.fill(content, inlined) for cut, content in zip(cuts, contents)]
    fill = {"frag": inlined, "mask": printed, "sect": filled}
    return _FILL.sub(lambda m: fill[m.group(1)][int(m.group(2))], out)
