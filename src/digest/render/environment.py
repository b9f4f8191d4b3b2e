"""The Jinja2 environment for the email templates.

Autoescaping is switched on explicitly for the MJML templates: Jinja's
``select_autoescape()`` only knows ``.html``/``.xml``, so ``*.mjml.j2`` would otherwise be
rendered unescaped and a headline like ``AT&T <b>`` would become markup. The text
templates (subject, preheader, plain-text part) are not HTML and stay unescaped.
``StrictUndefined`` turns a misspelt variable into an error instead of a blank line.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..content import token
from ..safe_html import clean_html
from ..sponsor_text import sponsor_lines, sponsor_short
from .inline import inline_body_html
from .styles import BODY_CLASS, Styles
from .text import WIDTH, html_to_text, wrap

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS_LONG = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HTML_SUFFIXES = (".mjml.j2", ".mjml", ".html.j2", ".html")


def _autoescape(name: str | None) -> bool:
    return bool(name) and name.endswith(HTML_SUFFIXES)


def short_date(value: date) -> str:
    """``27 Nov 2026``, independent of the process locale."""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def long_date(value: date) -> str:
    """``Friday, 27 November 2026``."""
    return f"{WEEKDAYS[value.weekday()]}, {value.day} {MONTHS_LONG[value.month - 1]} {value.year}"


def join_topics(titles: list[str], limit: int = 3) -> str:
    """``Lithium, Gold, Copper and 2 more``: a subject line must stay short."""
    titles = list(titles)
    if len(titles) <= limit:
        return ", ".join(titles)
    return f"{', '.join(titles[:limit])} and {len(titles) - limit} more"


def contact_href(contact: str) -> str | None:
    """A link for the publisher's contact: mailto for an address, the URL itself for a web page."""
    contact = contact.strip()
    if contact.startswith(("http://", "https://", "mailto:")):
        return contact
    if "@" in contact and " " not in contact:
        return f"mailto:{contact}"
    return None


def host(url: str) -> str:
    """``ridgeline.example`` for ``https://ridgeline.example/``: readable link text."""
    return urlsplit(url).netloc or url


#: Texts repeat across an edition's ~1,000-2,000 bodies: a title is wrapped, a briefing's
#: body inlined, a part written once per renderer (bounded: an edition has a few thousand).
#: Jinja may hand over Markup: the filters key on the plain string.
CACHE_SIZE = 4096
_wrap = lru_cache(maxsize=CACHE_SIZE)(wrap)


def body_filter(styles: Styles):
    """``|safe_body``: the one field rendered as HTML. Cleaned to the allow-list again here
    (defence in depth), given the styles table's ``[briefing-body]`` rules by premailer,
    then trusted; once per distinct body and renderer."""

    @lru_cache(maxsize=CACHE_SIZE)
    def safe_body(html: str) -> Markup:
        return Markup(inline_body_html(clean_html(html), styles.body_css, BODY_CLASS))

    return lambda html: safe_body(str(html))


def part_function(env: Environment, constants: dict[str, Any]) -> Callable[..., str]:
    """``part(template, item=None, first=False)``: a part of the email that depends on one
    item (or on nothing; ``first``: the first of its block) and the renderer's ``constants``
    only, written once per renderer.

    An item is in many of an edition's bodies (bodies are combinations of a day's items), so
    its card is written once, not once per body; the footer is the same in every body. The
    template sees ``item``, ``first`` and the constants, nothing else: what it writes can
    depend on nothing else."""

    @lru_cache(maxsize=CACHE_SIZE)
    def part(name: str, item: Any = None, first: bool = False) -> str:
        text = env.get_template(name).render(constants, item=item, first=first)
        return Markup(text) if _autoescape(name) else text

    return part


def make_environment(templates_dir: Path) -> Environment:
    """The email templates' environment (``|safe_body`` is added by the renderer, which
    reads the styles table first: :func:`body_filter`)."""
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # An included partial must end with its newline: MRML (mjml-python 1.4) rejects
        # whitespace without a newline between two closing tags in <mj-head>
        # ("</mj-style>  </mj-head>": "unexpected token in root template").
        keep_trailing_newline=True,
        auto_reload=False,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(
        short_date=short_date,
        long_date=long_date,
        sponsor_lines=sponsor_lines,
        sponsor_short=sponsor_short,
        html_to_text=lambda html: html_to_text(str(html)),
        wrap=lambda text, width=WIDTH: _wrap(str(text), width),
        join_topics=join_topics,
        contact_href=contact_href,
        host=host,
    )
    env.globals["token"] = token
    return env
