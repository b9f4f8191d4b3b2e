"""The HTML an ``mj-text`` or ``mj-raw`` holds, compiled a piece at a time.

MRML (mrml 6, in mjml-python 1.4) parses what both elements hold alike: HTML nodes, text
and comments, written out again as they were parsed, one after the other, with nothing
from around them (no attribute, no head, no sibling); a text that starts with a newline
and is only whitespace is dropped, wherever it is. So what such an element writes is what
each of its top-level nodes writes, joined, and a node is compiled once per renderer
however many bodies hold it ("In this issue" is a combination of a day's topics, related
headlines a combination of a day's headlines): :mod:`.mjml_parts` compiles a section as
its *frame*, each such content replaced by a marker, and fills the markers in
(:func:`section_html`).

A content is cut only where a line ends with ``>`` and the next starts with ``<``, where
the tags counted before are all closed (MRML pairs them by position, whatever their
names); each piece is compiled alone between two markers and taken only when the markers
come out exactly where a whole piece leaves them (a tag, comment or quoted value left open
would move or swallow the second). A section whose holders are not plain (attributes not
in the simple form, a comment, CDATA, script, style or MJML tag inside: where the first
closing tag might not be the holder's) is compiled whole, as is a section with a piece
that does not compile or is not whole.
"""

from __future__ import annotations

import re
from typing import Callable

from mjml import mjml2html

#: An ``mj-raw`` or ``mj-text`` start tag with plain attributes (no ``<``, ``>`` or ``"`` inside a value).
_HOLDER = re.compile(r'<(mj-raw|mj-text)((?:\s+[a-z-]+="[^"<>]*")*\s*)>')
_NOT_PLAIN = re.compile(r"<(?:[!?]|/?mj-|(?i:script|style))")
#: A tag MRML gives no children, other than one closing itself: one of its void elements,
#: named as it names them (case matters), not written ``<br/>``.
_VOID = re.compile(r"<(?:area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr)(?=[\s/>])[^<>]*(?<!/)>")
_LINE = ">\n<"
#: Text MRML writes as it is, marking where a piece's HTML starts and ends, or where a frame held content.
OPEN, CLOSE, MARK = "mjmlparts-open-4f1c", "mjmlparts-close-4f1c", "mjmlparts-held-4f1c"


def holders(child: str) -> list[tuple[int, int]] | None:
    """Where the content of each ``mj-raw`` and ``mj-text`` of a section is (start, end),
    in order; None when one of them is not plain (then the section is compiled whole)."""
    spans = []
    at = child.find("<mj-")
    while at >= 0:
        match = _HOLDER.match(child, at)
        if match is not None:
            end = child.find(f"</{match.group(1)}>", match.end())
            if end < 0 or _NOT_PLAIN.search(child, match.end(), end):
                return None
            if child[match.end(): end].strip():  # an empty one stays in the frame as it is
                spans.append((match.end(), end))
            at = end
        elif child.startswith(("<mj-raw", "<mj-text"), at):
            return None  # another form of a holder (a self-closing one, other attributes)
        at = child.find("<mj-", at + 1)
    return spans


def section_html(child: str, document: Callable[[str], str], cached: Callable, context) -> str | None:
    """MRML's output for ``document(child)`` (a document holding only this section); None
    when it does not compile. The section is compiled as its frame, and what its holders
    hold a piece at a time; ``cached((context or None, mjml, what), compile)`` keeps each
    frame's and piece's HTML (None: it did not compile)."""
    spans = holders(child)
    if not spans or MARK in child:
        return compiled(document(child))
    frame, at = [], 0
    for start, end in spans:
        frame += (child[at:start], MARK)
        at = end
    frame = "".join(frame) + child[at:]
    out = cached((context, frame, "frame"), lambda: compiled(document(frame)))
    parts = out.split(MARK) if out is not None else []
    if len(parts) != len(spans) + 1:
        return compiled(document(child))
    html = [parts[0]]
    for (start, end), after in zip(spans, parts[1:]):
        for piece in pieces(child[start:end]):
            written = cached((None, piece, "piece"), lambda piece=piece: piece_html(piece))
            if written is None:
                return compiled(document(child))  # compiled whole: an error is reported as MRML's
            html.append(written)
        html.append(after)
    return "".join(html)


def compiled(document: str) -> str | None:
    try:
        return mjml2html(document, fonts={}, disable_comments=False)
    except Exception:
        return None


def pieces(content: str) -> list[str]:
    """``content`` cut where a line ends with a tag and the next starts with one, at the
    top level (MRML nests by position: a closing tag closes whatever is open, whatever its
    name); ``[content]`` when it cannot be read exactly. The newline stays at the end of
    the piece before (a text that is only a newline is dropped either way)."""
    if _LINE not in content:
        return [content]
    lines = content.split(_LINE)
    last = len(lines) - 1
    found, start, end, depth = [], 0, 0, 0
    for number, line in enumerate(lines):
        line = ("<" if number else "") + line + (">\n" if number < last else "")
        depth += line.count("<") - 2 * line.count("</") - line.count("/>") - len(_VOID.findall(line))
        if depth < 0:
            return [content]
        end += len(line)
        if depth == 0 and number < last:
            found.append(content[start:end])
            start = end
    if depth:
        return [content]
    found.append(content[start:])
    return found


def piece_html(piece: str) -> str | None:
    """What MRML writes for ``piece`` held by an ``mj-raw`` (or an ``mj-text``); None when
    it does not compile, or when it is not whole (a tag, comment or attribute value left
    open: the marker after it is then not where it would be after a whole piece)."""
    out = _marked(piece)
    if out is None or not out.startswith(_BEFORE) or not out.endswith(_AFTER) or out.count(CLOSE) != 1:
        return None
    return out[len(_BEFORE): -len(_AFTER)]


def _marked(piece: str) -> str | None:
    return compiled(f"<mjml><mj-body><mj-raw>{OPEN}</mj-raw><mj-raw>{piece}</mj-raw><mj-raw>{CLOSE}</mj-raw>"
                    "</mj-body></mjml>")


_EMPTY = _marked("")
_BEFORE, _AFTER = _EMPTY[: _EMPTY.index(OPEN) + len(OPEN)], _EMPTY[_EMPTY.index(CLOSE):]
