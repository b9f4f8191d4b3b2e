"""MJML -> HTML with mjml-python (MRML, the Rust port: 0.4 ms against 20 ms for Node).

MRML raises on malformed MJML but has no warnings channel: an unknown ``<mj-*>`` tag is
copied into the HTML as-is, and a missing ``lang`` becomes ``und``. :func:`lint` checks
the output for what MJML's own validator would have flagged and logs it as warnings.
"""

from __future__ import annotations

import logging
import re

from mjml import mjml2html

from .errors import RenderError

log = logging.getLogger(__name__)

_LEFTOVER_MJ_TAG = re.compile(r"<(mj-[a-z-]+)")
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
#: MRML's hidden preview text (<mj-preview>) hides it with a 1px white font: on a light
#: body that is what SpamAssassin's HTML_FONT_LOW_CONTRAST (and, with long lines,
#: LONGLN_LOW_CONTRAST) looks for in hidden spam text. Hidden instead by size and
#: display only (Outlook: mso-hide), with no tiny font and no invisible colour; clients
#: still take it as the inbox snippet.
_MRML_PREVIEW_STYLE = (
    '<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;'
    'max-height:0px;max-width:0px;opacity:0;overflow:hidden;">'
)
PREVIEW_STYLE = '<div style="display:none;max-height:0px;max-width:0px;overflow:hidden;mso-hide:all;">'


def compile_mjml(source: str, template: str) -> str:
    """Compile MJML; a compile error raises :class:`RenderError` naming ``template``."""
    try:
        # fonts={}: no Google Fonts <link> (no remote CSS in the email; system fonts only).
        html = mjml2html(source, fonts={}, disable_comments=False)
    except Exception as exc:  # MRML raises ValueError; anything else is equally fatal
        raise RenderError(f"{template}: MJML did not compile: {exc}{_where(source, str(exc))}") from exc
    html = preview_fixed(html)
    for warning in lint(html):
        log.warning("%s: %s", template, warning)
    return html


def preview_fixed(html: str) -> str:
    """MRML's preview text hidden without the tiny white font (:data:`PREVIEW_STYLE`)."""
    return html.replace(_MRML_PREVIEW_STYLE, PREVIEW_STYLE, 1)


def _where(source: str, message: str) -> str:
    """MRML reports byte offsets into the generated MJML: show the line and the text there."""
    match = re.search(r"position (\d+)", message)
    if not match:
        return ""
    offset = int(match.group(1))
    line = source.count("\n", 0, offset) + 1
    excerpt = source[max(0, offset - 60): offset + 60].replace("\n", " ")
    return f" (generated MJML line {line}, near: {excerpt!r})"


def lint(html: str) -> list[str]:
    """What MRML lets through silently: leftover MJML tags, images without alt, no lang."""
    return lint_warnings([lint_counts(html)])


def lint_counts(html: str) -> tuple[frozenset[str], int, int, int, bool]:
    """What :func:`lint` counts in ``html``; the counts of a document's pieces add up
    (:mod:`.mjml_parts` counts each section once)."""
    missing_alt = sum(1 for tag in _IMG_TAG.findall(html) if not re.search(r"\balt=", tag))
    return (frozenset(_LEFTOVER_MJ_TAG.findall(html)), missing_alt, html.count("<!--[if"),
            html.count("<![endif]-->"), 'lang="und"' in html)


def lint_warnings(counts) -> list[str]:
    """:func:`lint`'s warnings from the :func:`lint_counts` of a document's pieces."""
    tags = frozenset().union(*(c[0] for c in counts))
    warnings = [f"unknown MJML element <{tag}> copied to the HTML" for tag in sorted(tags)]
    missing_alt = sum(c[1] for c in counts)
    if missing_alt:
        warnings.append(f"{missing_alt} image(s) without an alt attribute")
    if any(c[4] for c in counts):
        warnings.append('<html lang="und">: set <mjml lang="...">')
    if sum(c[2] for c in counts) != sum(c[3] for c in counts):
        warnings.append("unbalanced MSO conditional comments")
    return warnings
