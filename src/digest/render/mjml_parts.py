"""MJML -> HTML one top-level section at a time: each distinct section compiled once.

An edition's ~1,000-2,000 bodies are combinations of a few hundred sections (a topic's
cards, the masthead, the footer...), and compiling the whole document was most of a
body's CPU. MRML renders a document as its head, then each child of ``<mj-body>`` one
after the other, each from its own MJML and what the head and ``<mj-body>`` say (the
attributes, the body's width). What a child adds to the head (its columns' media
queries, a component's style) is a set, written sorted. So:

- a section is compiled once per renderer, alone in a document with the same head (its
  title and preview blanked) and ``<mj-body>``; what it writes in the body is kept, with
  the head that document got (its *head kind*);
- the HTML before a body's sections comes from a *probe* document: the head, and one known
  section of each head kind among the body's, in the order they first come; its sections'
  HTML cut off. It is compiled once per set of head kinds, with markers for the title and
  the preview that each body's text then replaces (when MRML writes each of its characters
  as it is; otherwise the probe is compiled with the body's own head);
- then the sections' HTML, joined.

The result is MRML's own output for the whole document, byte for byte, and the same
warnings: tests/render/test_mjml_parts.py compares the two on the render benchmark's
workload, the baseline editions and hostile items (and they were compared on the 100,000-
and million-reader edition workloads: benchmarks/RESULTS.md, "mjmlparts"). Anything this
does not know to be safe compiles the whole document (:func:`compile_mjml`): a body child
other than ``mj-section``/``mj-wrapper``, an element outside :data:`SAFE_ELEMENTS` (a
carousel or navbar numbers its ids across the document), text around the sections, a
compile error (reported as the whole document's), a probe that does not end with its
sections' HTML.

What an ``mj-text`` or ``mj-raw`` holds ("In this issue", related headlines, a topic's
cards) is compiled a top-level node at a time, each node once (:mod:`.mjml_html`): a
section is compiled as its *frame* (each such content replaced by a marker: the contents
list's frame is the same in every body), and the markers are filled in with the nodes'
HTML (:func:`.mjml_html.section_html`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from mjml import mjml2html

from ..content import tokens_in
from . import mjml_html
from .mjml import compile_mjml, lint_counts, lint_warnings, log, preview_fixed
from .mjml_verbatim import written_verbatim

#: Elements whose output depends on their own MJML, the head and their container only.
SAFE_ELEMENTS = frozenset({
    "mj-section", "mj-wrapper", "mj-group", "mj-column", "mj-text", "mj-raw", "mj-image", "mj-divider",
    "mj-spacer", "mj-button", "mj-table",
})
#: Sections kept per renderer (their MJML and HTML), in characters (LRU; ~1.1 bytes each).
#: An edition's distinct sections come to 20 M at 100,000 readers, 34 M at a million, yet
#: the least recently used are rarely wanted again: at a million, one pass over the 2,210
#: documents took the same CPU (within 3%) with 16 M (18 MB) as with all of them (37 MB).
CACHE_CHARS = 16_000_000
#: Documents whose size and tokens are kept (a body and the size budget's candidates).
KNOWN_DOCUMENTS = 8

_CLOSE = "</div></body></html>"
_MJ_TAG = re.compile(r"<(mj-[a-z-]+)")
_CHILD = re.compile(r"\s*<(mj-section|mj-wrapper)[\s>/]")
_BLANKED = re.compile(r"(<mj-(title|preview)>)(.*?)(</mj-\2>)", re.DOTALL)
#: Stand-ins for the title and preview in a body's head part, written once per head kinds.
_MARKERS = {"title": "mjmlparts-title-4f1c", "preview": "mjmlparts-preview-4f1c"}
_MARKED = re.compile("|".join(_MARKERS.values()))


@dataclass(frozen=True)
class _Piece:
    html: str  # what the section writes in the body
    kind: int  # its head kind (see _Context.kinds)
    counts: tuple  # lint_counts(html)
    size: int  # bytes of html in UTF-8
    tokens: frozenset  # tokens_in(html)


class _Context:
    """What every section of one head and ``<mj-body>`` tag shares."""

    def __init__(self, head: str, body_tag: str) -> None:
        self.head, self.body_tag = head, body_tag
        empty = mjml2html(f"{head}{body_tag}</mj-body></mjml>", fonts={}, disable_comments=False)
        self.body_open = empty[empty.rindex("<body"): -len(_CLOSE)]
        self.kinds: dict[str, int] = {}  # a section document's head -> its kind
        self.examples: dict[int, str] = {}  # kind -> the shortest section MJML seen of that kind
        self.example_html: dict[int, str] = {}
        #: head kinds -> the body's head part with markers (split at them, and the markers'
        #: names), or None when that cannot be relied on
        self.starts: dict[tuple[int, ...], tuple[list[str], list[str]] | None] = {}


class MjmlParts:
    """``compile(source, template)``: :func:`compile_mjml`'s HTML (and warnings), compiling
    each distinct top-level section once. One per renderer (per process)."""

    def __init__(self, cache_chars: int = CACHE_CHARS) -> None:
        self.cache_chars = cache_chars
        self._chars = 0
        self._pieces: OrderedDict[tuple[_Context, str], _Piece] = OrderedDict()
        self._contexts: dict[tuple[str, str], _Context] = {}
        self.fallbacks = 0
        #: id of one of the last documents assembled -> (it, its size, its tokens); kept
        #: alive here, so an id is not another document's while it is in here
        self._known: dict[int, tuple[str, int, frozenset]] = {}
        # A renderer may serve threads (a preview server): the caches are changed under it.
        # MRML holds the GIL while it compiles, so this costs no parallelism.
        self._lock = threading.Lock()

    def size(self, html: str) -> int:
        """Bytes of ``html`` in UTF-8: added up from its sections' when it is one of the
        last documents this assembled (a body's HTML is encoded once fewer)."""
        known = self._known.get(id(html))
        return known[1] if known is not None and known[0] is html else len(html.encode("utf-8"))

    def tokens(self, html: str) -> set[str]:
        """``tokens_in(html)``, from its sections' when it is one of the last documents
        this assembled (a body's HTML is searched once fewer)."""
        known = self._known.get(id(html))
        return set(known[2]) if known is not None and known[0] is html else tokens_in(html)

    def compile(self, source: str, template: str) -> str:
        with self._lock:
            html = self._assembled(source, template)
        if html is None:
            self.fallbacks += 1
            return compile_mjml(source, template)
        return html

    # ------------------------------------------------------------ steps

    def _assembled(self, source: str, template: str) -> str | None:
        split = split_document(source)
        if split is None:
            return None
        head, body_tag, children = split
        normal = _BLANKED.sub(r"\1\4", head)
        context = self._contexts.get((normal, body_tag))
        if context is None:
            if len(self._contexts) > 16:  # a renderer has one head: this is a test or a preview server
                self._contexts.clear()
            try:
                context = self._contexts[(normal, body_tag)] = _Context(normal, body_tag)
            except Exception:
                return None
        pieces = []
        for child in children:
            piece = self._piece(context, child)
            if piece is None:
                return None
            pieces.append(piece)
        kinds = tuple(dict.fromkeys(piece.kind for piece in pieces))
        start = self._start(context, head, kinds)
        if start is None:
            return None
        counts = [lint_counts(start)] + [piece.counts for piece in pieces]
        fixed = preview_fixed(start)  # MRML's preview is in the head's part, if anywhere
        html = fixed + "".join(piece.html for piece in pieces) + _CLOSE
        if len(fixed) == len(start):  # no preview there (the fix is shorter): over the whole, as compile_mjml
            html = preview_fixed(html)
        elif fixed.endswith(">") and all(piece.html.endswith(">") for piece in pieces):  # no token across them
            size = len(fixed.encode("utf-8")) + sum(piece.size for piece in pieces) + len(_CLOSE)
            self._known[id(html)] = (html, size, frozenset(tokens_in(fixed)).union(*(p.tokens for p in pieces)))
            while len(self._known) > KNOWN_DOCUMENTS:
                del self._known[next(iter(self._known))]
        for warning in lint_warnings(counts):
            log.warning("%s: %s", template, warning)
        return html

    def _start(self, context: _Context, head: str, kinds: tuple[int, ...]) -> str | None:
        """The body's HTML before its sections: its head part for these head kinds with
        the title and preview filled in, or the probe's own when their text has anything
        MRML might not write as it is."""
        texts = {m.group(2): m.group(3) for m in _BLANKED.finditer(head)}
        if len(texts) == 2 and len(_BLANKED.findall(head)) == 2 and all(map(written_verbatim, texts.values())):
            if kinds not in context.starts:
                marked = _BLANKED.sub(lambda m: m.group(1) + _MARKERS[m.group(2)] + m.group(4), head)
                start = _probe(marked, context, kinds)
                parts = _MARKED.split(start) if start is not None else []
                names = [name for marker in _MARKED.findall(start or "") for name in _MARKERS if _MARKERS[name] == marker]
                context.starts[kinds] = (parts, names) if sorted(names) == ["preview", "title", "title"] else None
            template = context.starts[kinds]
            if template is not None:
                parts, names = template
                filled = [parts[0]]
                for name, part in zip(names, parts[1:]):
                    filled += (texts[name], part)
                return "".join(filled)
        return _probe(head, context, kinds)

    def _piece(self, context: _Context, child: str) -> _Piece | None:
        key = (context, child)  # the text itself: no hashing beyond the dict's (~2 us a section)
        piece = self._pieces.get(key)
        if piece is not None:
            self._pieces.move_to_end(key)
            return piece
        if not set(_MJ_TAG.findall(child)) <= SAFE_ELEMENTS:
            return None
        out = mjml_html.section_html(child, lambda body: f"{context.head}{context.body_tag}{body}</mj-body></mjml>",
                                     self._cached, context)
        if out is None:
            return None
        at = out.find(context.body_open)
        if at < 0 or out.count(context.body_open) != 1 or not out.endswith(_CLOSE):
            return None
        html = out[at + len(context.body_open): -len(_CLOSE)]
        kind = context.kinds.setdefault(out[:at], len(context.kinds))
        if kind not in context.examples or len(child) < len(context.examples[kind]):
            context.examples[kind], context.example_html[kind] = child, html
        piece = _Piece(html, kind, lint_counts(html), len(html.encode("utf-8")), frozenset(tokens_in(html)))
        self._remember(key, piece, len(child) + len(html))
        return piece

    def _cached(self, key: tuple, compile_it) -> str | None:
        """A frame's or a piece's HTML (``key``: its context or None, its MJML, which of the
        two), kept in the sections' LRU; None (not kept) when it does not compile."""
        html = self._pieces.get(key)
        if html is not None:
            self._pieces.move_to_end(key)
            return html
        html = compile_it()
        if html is not None:
            self._remember(key, html, len(key[1]) + len(html))
        return html

    def _remember(self, key: tuple, value, chars: int) -> None:
        self._pieces[key] = value
        self._chars += chars
        while self._chars > self.cache_chars and len(self._pieces) > 1:
            (_, text, *_), old = self._pieces.popitem(last=False)
            self._chars -= len(text) + len(old if isinstance(old, str) else old.html)


def _probe(head: str, context: _Context, kinds: tuple[int, ...]) -> str | None:
    """The HTML before the sections of a document with this head and sections of these
    kinds: compiled with one known section of each kind, whose HTML is then cut off."""
    examples = "".join(context.examples[kind] for kind in kinds)
    try:
        probe = mjml2html(f"{head}{context.body_tag}{examples}</mj-body></mjml>", fonts={}, disable_comments=False)
    except Exception:
        return None
    tail = "".join(context.example_html[kind] for kind in kinds) + _CLOSE
    return probe[: len(probe) - len(tail)] if probe.endswith(tail) else None


def split_document(source: str) -> tuple[str, str, list[str]] | None:
    """``(head, body_tag, children)``: everything before ``<mj-body``, the ``<mj-body ...>``
    tag, and the text of each top-level ``mj-section``/``mj-wrapper``; None when the
    document is anything else (then it is compiled whole). A second ``<mj-body`` can only
    be inside a child, whose elements :meth:`MjmlParts._piece` checks."""
    start = source.find("<mj-body")
    end = source.rfind("</mj-body>")
    if start < 0 or end < start or not _only_close(source[end:]):
        return None
    tag_end = source.find(">", start) + 1
    if not tag_end or source[tag_end - 2] == "/":
        return None
    children, at = [], tag_end
    while True:
        match = _CHILD.match(source, at, end)
        if match is None:
            return None if source[at:end].strip() else (source[:start], source[start:tag_end], children)
        opening, closing = f"<{match.group(1)}", f"</{match.group(1)}>"
        close = source.find(closing, match.end(), end)
        if close < 0 or source.find(opening, match.end(), close) >= 0:  # none nested
            return None
        at = close + len(closing)
        children.append(source[match.start(1) - 1: at])


def _only_close(tail: str) -> bool:
    return not tail.replace("</mj-body>", "", 1).replace("</mjml>", "", 1).strip()
