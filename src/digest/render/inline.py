"""CSS inlining with premailer (mjml-python leaves ``<mj-style inline>`` rules in a style block).

Only the style blocks the templates mark with :data:`INLINE_MARKER` are inlined. MJML's
own blocks (its resets and the ``@media`` column rules) are left exactly as they are:
inlining the resets would copy ~80 bytes onto every table cell, and premailer strips
``!important`` from blocks it processes, which would break the mobile column widths.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import cssutils
from premailer import Premailer

INLINE_MARKER = "/* digest:inline */"
DOCTYPE = "<!doctype html>"

_STYLE_OPEN = re.compile(r"<style\b([^>]*)>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>\s*", re.IGNORECASE)

cssutils.log.setLevel(logging.CRITICAL)  # cssutils logs every vendor property it does not know


def _mark_ignored(match: re.Match[str]) -> str:
    attrs, css = match.group(1), match.group(2)
    if INLINE_MARKER in css or "data-premailer" in attrs:
        return match.group(0)
    return f'<style{attrs} data-premailer="ignore">{css}</style>'


class _CachedRulesPremailer(Premailer):
    """Premailer that turns each style block into rules once per process, not once per body.

    Every body carries the same marked style block, and premailer's own caches keep only
    the parsed sheet: formatting its rules through cssutils took ~25 ms of every render.
    The rules are plain (specificity, selector, declarations) tuples, so sharing them
    changes no output. Valid while the options used below stay fixed.
    """

    _rules: dict[tuple[str, int], tuple[tuple, tuple]] = {}  # (css, index) -> (rules, leftover)

    def _parse_style_rules(self, css_body, ruleset_index):
        key = (css_body or "", ruleset_index)
        cached = self._rules.get(key)
        if cached is None:
            rules, leftover = super()._parse_style_rules(css_body, ruleset_index)
            if len(self._rules) >= 64:
                self._rules.clear()
            cached = self._rules[key] = (tuple(rules), tuple(leftover))
        return list(cached[0]), list(cached[1])


def make_premailer(html, *, align_floating_images: bool = True) -> Premailer:
    """The premailer every inlining path uses (whole documents and fragments alike).

    ``align_floating_images=False`` leaves that last step to :func:`align_floating_images`
    (the caller runs it after ``transform``): the same step, with the float of each style
    attribute parsed once per process instead of once per image per body.
    """
    return _CachedRulesPremailer(
        html,
        align_floating_images=align_floating_images,
        keep_style_tags=True,
        allow_network=False,
        allow_loading_external_files=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        strip_important=False,
        disable_link_rewrites=True,
        remove_classes=False,
        # MJML sets the width/height attributes Outlook needs; never let CSS rewrite them.
        disable_basic_attributes=["width", "height"],
    )


@lru_cache(maxsize=1024)
def _css_float(style: str) -> str:
    return cssutils.parseStyle(style).float


def align_floating_images(page) -> None:
    """premailer's ``align_floating_images`` step (Outlook ignores CSS floats), as it does it."""
    for item in page.xpath("//img[@style]"):
        value = _css_float(item.attrib["style"])
        if value == "right":
            item.attrib["align"] = "right"
        elif value == "left":
            item.attrib["align"] = "left"


def prepare(html: str) -> str:
    """Mark every style block but the one carrying :data:`INLINE_MARKER` as ignored."""
    return _STYLE_OPEN.sub(_mark_ignored, html)


def finish(inlined: str) -> str:
    """Drop the inlined block and put the doctype back (premailer's output -> the email)."""
    # The marked rules now live in style attributes; their block would only add bytes.
    inlined = _STYLE_OPEN.sub(lambda m: "" if INLINE_MARKER in m.group(2) else m.group(0), inlined)
    # premailer (lxml) drops the doctype; without it clients render in quirks mode.
    return DOCTYPE + _DOCTYPE.sub("", inlined, count=1)


def inline_css(html: str) -> str:
    """Inline the marked rules; keep every style block, MSO comment and the doctype."""
    return finish(make_premailer(prepare(html)).transform())
