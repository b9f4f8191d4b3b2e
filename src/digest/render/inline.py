"""CSS inlining with premailer, where its work is needed: a briefing's own HTML.

A briefing's body is feed markup the templates cannot put styles on; premailer gives its
elements the ``[briefing-body]`` rules of the styles table, once per distinct body (the
``|safe_body`` filter caches it: an edition's ~1,000-2,000 bodies share a few hundred
briefings). The templates' own elements carry their styles already (:mod:`.styles`), so
no whole body goes through premailer (``benchmarks/render.py`` measures that too, for
comparison).

Options: keep every style block (MJML's ``@media`` rules must survive), no network, no
link rewriting, classes kept, ``width``/``height`` never rewritten from CSS (MJML sets the
attributes Outlook needs), cssutils logging silenced.
"""

from __future__ import annotations

import logging

import cssutils
from premailer import Premailer

_WRAPPER = '<div class="{}">'

cssutils.log.setLevel(logging.CRITICAL)  # cssutils logs every vendor property it does not know


def make_premailer(html: str) -> Premailer:
    return Premailer(
        html,
        keep_style_tags=True,
        allow_network=False,
        allow_loading_external_files=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        strip_important=False,
        disable_link_rewrites=True,
        remove_classes=False,
        disable_basic_attributes=["width", "height"],
    )


def inline_body_html(html: str, css: str, wrapper_class: str) -> str:
    """``html`` (already on the allow-list) with ``css`` inlined, as it stands inside
    ``<div class="wrapper_class">``: the rules are written for that div's descendants."""
    wrapper = _WRAPPER.format(wrapper_class)
    document = f"<html><head><style>{css}</style></head><body>{wrapper}{html}</div></body></html>"
    inlined = make_premailer(document).transform(pretty_print=False)
    start = inlined.index(wrapper) + len(wrapper)
    return inlined[start: inlined.rindex("</div></body>")]
