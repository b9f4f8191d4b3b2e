"""Bodies assembled from the pieces of bodies already rendered: no MJML, no inlining.

An edition's distinct selections share almost all of their sections: the masthead, each
topic's cards, the video rows, the footer; a body usually brings one section of its own
(its related headlines). Each top-level ``<mj-section>`` of a body's MJML becomes, in the
finished (compiled and inlined) HTML, one run of markup that starts with the section's
Outlook table (``<!--[if mso | IE]><table``) and ends where MJML closes it
(:data:`SECTION_END`). That run depends only on the section's own MJML and on the
document's head (its styles, the attributes of ``<mj-body>``): MJML compiles each section
on its own, and the fast inlining path (:mod:`.fragment_inline`) only takes style rules
whose selectors look at an element and its ancestors, which are the same for a section
wherever it stands. So:

* after a body is rendered the usual way, its HTML is cut into a *frame* (everything
  before the first section and after the last) and one *piece* per section, each cached
  under the section's MJML and the head's;
* a body whose every section has a piece is the frame around them; a body with new
  sections first renders a document of only those (the same head), to learn their pieces.

The frame depends on the head, on the subject and preheader (masked: the ``<title>``, the
page's ``aria-label`` and the hidden preview text, re-printed as lxml prints them) and on
what MJML adds to the head for the sections present: the column-width classes (in the
order they appear) and the components used. Those make its key; a body whose frame is not
known yet is rendered the usual way (an edition has a handful of frames).

Whatever does not fit (no sections, anything but sections directly in ``<mj-body>``, a
style block that the fast inlining path cannot take section by section, a frame whose
texts are not where expected) is rendered the usual way. ``Renderer(fast=False)`` is the
reference: ``tests/render/test_fast_path_equivalence.py`` compares the two byte for byte,
and ``tests/render/test_assembly.py`` an edition's worth of distinct selections.

Memory: pieces are a few KB (a topic's cards up to ~20 KB); at most
:data:`PIECE_CACHE_SIZE` of them and :data:`FRAME_CACHE_SIZE` frames per process.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from lxml import etree

from .inline import _STYLE_OPEN, INLINE_MARKER, prepare
from .lru import LRU
from .masking import _Escaper

PIECE_CACHE_SIZE = 4096
FRAME_CACHE_SIZE = 64
SECTION_START = "<!--[if mso | IE]><table"
SECTION_END = "<!--[if mso | IE]></td></tr></table><![endif]-->"

_BODY_OPEN = re.compile(r"<mj-body\b[^>]*>")
_BODY_CLOSE = "</mj-body>"
_SECTION_OPEN, _SECTION_CLOSE = "<mj-section", "</mj-section>"
_TITLE = re.compile(r"(<mj-title>)(.*?)(</mj-title>)", re.DOTALL)
_PREVIEW = re.compile(r"(<mj-preview>)(.*?)(</mj-preview>)", re.DOTALL)
_COMPONENT = re.compile(r"<(mj-[a-z-]+)((?:\s+[a-z-]+=\"[^\"]*\")*)")
_ATTRIBUTE_NAME = re.compile(r"\s([a-z-]+)=")
_COLUMN_CLASS = re.compile(r"\bmj-column-(?:per|px)-[\w-]+")
#: Markers for the subject as text, the subject as an attribute, the preheader as text.
_MARKERS = ("\x00digest-subject\x00", "\x00digest-subject-attribute\x00", "\x00digest-preheader\x00")


@dataclass(frozen=True)
class Parts:
    """A body's MJML as a head (everything but its sections, title and preview emptied)
    and its top-level sections."""

    head: str
    sections: tuple[str, ...]

    @property
    def head_key(self) -> bytes:
        return hashlib.blake2b(self.head.encode(), digest_size=16).digest()

    def probe(self, sections) -> str:
        """An MJML document of ``sections`` alone under this head (title and preview empty)."""
        at = self.head.index(_BODY_CLOSE)
        return self.head[:at] + "\n".join(sections) + self.head[at:]


@dataclass(frozen=True)
class Piece:
    """A section's finished HTML, and what it makes MJML add to the head."""

    html: str
    column_classes: tuple[str, ...]  # in order of appearance
    components: frozenset  # (MJML tag, its attribute names)

    @classmethod
    def of(cls, section: str, html: str) -> "Piece":
        components = frozenset((tag, tuple(sorted(_ATTRIBUTE_NAME.findall(attributes))))
                               for tag, attributes in _COMPONENT.findall(section))
        return cls(html, tuple(dict.fromkeys(_COLUMN_CLASS.findall(html))), components)


def frame_signature(pieces, preheader: str) -> tuple:
    """What a frame depends on besides the head: MJML's column-width classes in the order
    they first appear (their media queries go into the head in that order), the components
    used, and whether there is a preview text."""
    classes: dict[str, None] = {}
    components: set = set()
    for piece in pieces:
        classes.update(dict.fromkeys(piece.column_classes))
        components |= piece.components
    return tuple(classes), tuple(sorted(components)), bool(preheader)


def split_source(source: str) -> Parts | None:
    """The body's MJML cut into head and sections; None when ``<mj-body>`` holds anything
    but sections (then it is rendered the usual way)."""
    opened = _BODY_OPEN.search(source)
    closed = source.rfind(_BODY_CLOSE)
    if opened is None or closed < opened.end():
        return None
    sections = []
    position = opened.end()
    while True:
        start = source.find("<", position, closed)
        if start < 0:
            if source[position:closed].strip():
                return None
            break
        if source[position:start].strip() or not source.startswith(_SECTION_OPEN, start):
            return None
        end = source.find(_SECTION_CLOSE, start, closed)
        if end < 0:
            return None
        end += len(_SECTION_CLOSE)
        if source.find(_SECTION_OPEN, start + len(_SECTION_OPEN), end) >= 0:
            return None  # a section inside a section: not ours to cut
        sections.append(source[start:end])
        position = end
    if not sections:
        return None
    outside = source[:opened.end()] + source[closed:]
    head = _PREVIEW.sub(r"\1\3", _TITLE.sub(r"\1\3", outside, count=1), count=1)
    return Parts(head, tuple(sections))


def cut_html(html: str, count: int) -> tuple[str, list[str], str] | None:
    """The finished ``html`` of a body with ``count`` sections as (before, pieces, after);
    None unless it has exactly one run per section, each where expected."""
    body = html.find("<body")
    first = html.find(SECTION_START, body) if body >= 0 else -1
    if first < 0:
        return None
    pieces, position = [], first
    for _ in range(count):
        end = html.find(SECTION_END, position)
        if end < 0 or not html.startswith(SECTION_START, position):
            return None
        end += len(SECTION_END)
        pieces.append(html[position:end])
        position = end
    if SECTION_END in html[position:]:
        return None
    return html[:first], pieces, html[position:]


class _Printer:
    """How the finished HTML prints a value as text and as an attribute (lxml's escaping,
    as :mod:`.masking` finds it)."""

    def __init__(self) -> None:
        page = etree.fromstring("<html><body></body></html>", etree.HTMLParser())
        self._escaper = _Escaper(page.find("body"))
        self.text = lru_cache(maxsize=1024)(self._escaper.text)
        self.attribute = lru_cache(maxsize=1024)(lambda value: self._escaper.attribute("aria-label", value))

    def spots(self, subject: str, preheader: str) -> list[tuple[str, str, str]] | None:
        """(before, printed value, after) for each place the subject and preheader are
        printed before the sections: the title, the page's aria-label, the hidden preview
        text (only when there is a preheader), in :data:`_MARKERS` order."""
        subject_text, subject_attribute = self.text(subject), self.attribute(subject)
        if subject_text is None or subject_attribute is None:
            return None
        spots = [("<title>", subject_text, "</title>"), (' aria-label="', subject_attribute, '"')]
        if preheader:
            preheader_text = self.text(preheader)
            if preheader_text is None:
                return None
            spots.append((';">', preheader_text, "</div>"))
        return spots

    def mask(self, before: str, subject: str, preheader: str) -> str | None:
        """The part before the sections with the subject and preheader as markers; None
        unless each is printed exactly where expected, exactly once."""
        spots = self.spots(subject, preheader)
        if spots is None or any(marker in before for marker in _MARKERS):
            return None
        masked = before
        for (opening, value, closing), marker in zip(spots, _MARKERS):
            whole = opening + value + closing
            if masked.count(whole) != 1:
                return None
            masked = masked.replace(whole, opening + marker + closing)
        return masked if self.fill(masked, subject, preheader) == before else None

    def fill(self, masked: str, subject: str, preheader: str) -> str | None:
        spots = self.spots(subject, preheader)
        if spots is None or (_MARKERS[2] in masked) != bool(preheader):
            return None
        for (_, value, _), marker in zip(spots, _MARKERS):
            masked = masked.replace(marker, value)
        return masked


def context_free(compiled: str) -> bool:
    """True when the fast inlining path inlines MJML's output ``compiled`` section by
    section: its one marked style block only has selectors on an element and its ancestors."""
    from .fragment_inline import ancestor_classes

    blocks = [m.group(2) for m in _STYLE_OPEN.finditer(prepare(compiled)) if INLINE_MARKER in m.group(2)]
    return len(blocks) == 1 and ancestor_classes(blocks[0]) is not None


class Assembler:
    """Process-local caches of pieces and frames (see the module docstring)."""

    def __init__(self) -> None:
        self.pieces = LRU(PIECE_CACHE_SIZE)  # (head key, section MJML) -> Piece
        self.frames = LRU(FRAME_CACHE_SIZE)  # (head key, frame signature) -> (masked before, after)
        self._context_free: dict[bytes, bool] = {}
        self._printer = _Printer()  # per renderer: it uses a scratch element

    def assemble(self, source: str, subject: str, preheader: str,
                 render: Callable[[str], str]) -> str | None:
        """The finished HTML of ``source`` from cached pieces (rendering a document of its
        new sections first, with ``render``: MJML -> finished HTML); None when it cannot be
        assembled (then render it the usual way and :meth:`learn` from it)."""
        parts = split_source(source)
        if parts is None:
            return None
        head_key = parts.head_key
        if self._context_free.get(head_key) is not True:
            return None  # not learnt yet, or not safe to assemble
        pieces = [self.pieces.get((head_key, section)) for section in parts.sections]
        missing = list(dict.fromkeys(s for s, piece in zip(parts.sections, pieces) if piece is None))
        if missing:
            if self.frames.get((head_key, frame_signature([p for p in pieces if p is not None], preheader))) is None \
                    and len(missing) == len(parts.sections):
                return None  # nothing known of this body: rendering it whole costs less
            cut = cut_html(render(parts.probe(missing)), len(missing))
            if cut is None:
                return None
            learnt = {section: Piece.of(section, html) for section, html in zip(missing, cut[1])}
            for section, piece in learnt.items():
                self.pieces.put((head_key, section), piece)
            pieces = [piece if piece is not None else learnt[section] for section, piece in zip(parts.sections, pieces)]
        frame = self.frames.get((head_key, frame_signature(pieces, preheader)))
        if frame is None:
            return None
        before = self._printer.fill(frame[0], subject, preheader)
        if before is None:
            return None
        return before + "".join(piece.html for piece in pieces) + frame[1]

    def learn(self, source: str, compiled: str, html: str, subject: str, preheader: str) -> None:
        """Cache the frame and pieces of a body rendered the usual way: ``compiled`` is
        MJML's output for ``source``, ``html`` the finished body."""
        parts = split_source(source)
        if parts is None:
            return
        head_key = parts.head_key
        if head_key not in self._context_free:
            self._context_free[head_key] = context_free(compiled)
        if not self._context_free[head_key]:
            return
        cut = cut_html(html, len(parts.sections))
        if cut is None:
            return
        before, finished, after = cut
        masked = self._printer.mask(before, subject, preheader)
        if masked is None:
            return
        pieces = [Piece.of(section, piece) for section, piece in zip(parts.sections, finished)]
        self.frames.put((head_key, frame_signature(pieces, preheader)), (masked, after))
        for section, piece in zip(parts.sections, pieces):
            self.pieces.put((head_key, section), piece)
