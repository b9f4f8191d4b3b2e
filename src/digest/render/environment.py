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
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..content import SponsorDisclosure, token
from .sanitize import clean_body_html
from .text import WIDTH, html_to_text, wrap

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS_LONG = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
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


def sponsor_lines(sponsor: SponsorDisclosure | None) -> list[str]:
    """The paid-promotion disclosure as printed next to a sponsored piece.

    The publisher's full sentence when there is one; the payer, amount and form are added
    as a line of their own unless that sentence already names them, so the three facts
    17(b) asks for are always in the email itself.
    """
    if sponsor is None:
        return []
    lines = [sponsor.text.strip()] if sponsor.text and sponsor.text.strip() else []
    said = lines[0].lower() if lines else ""
    facts = [
        (label, value.strip())
        for label, value in (("Paid by", sponsor.payer), ("Amount", sponsor.amount), ("Form", sponsor.form))
        if value and value.strip() and value.strip().lower() not in said
    ]
    if facts:
        lines.append("; ".join(f"{label}: {value}" for label, value in facts) + ".")
    if not lines:
        lines.append("Paid promotion: the payer has not been disclosed.")
    return lines


def sponsor_short(sponsor: SponsorDisclosure | None) -> str:
    """The paid-promotion disclosure of a headline, on one line:
    ``Sponsored by Voltline Battery Metals (USD 4,500, cash)``.

    A sponsored piece that is only a headline (beyond ``max_per_topic``, or moved out by
    the size budget) is still paid promotion: who paid, how much and in what form stand
    next to it (Securities Act 17(b)). Without all three facts, the publisher's sentence.
    """
    if sponsor is None:
        return ""
    payer, amount, form = ((v or "").strip() for v in (sponsor.payer, sponsor.amount, sponsor.form))
    text = (sponsor.text or "").strip()
    if payer and amount and form:
        return f"Sponsored by {payer} ({amount}, {form})"
    if text:
        return f"Sponsored: {text}"
    facts = ", ".join(v for v in (amount, form) if v)
    short = f"Sponsored by {payer}" if payer else "Sponsored (payer not disclosed)"
    return f"{short} ({facts})" if facts else short


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


#: Item texts repeat across the ~1,000-2,000 bodies of an edition; these filters are pure
#: functions of their arguments, so each distinct text is cleaned, converted or wrapped
#: once per process (bounded: an edition has a few thousand distinct strings).
FILTER_CACHE_SIZE = 8192
_clean_body = lru_cache(maxsize=FILTER_CACHE_SIZE)(clean_body_html)
_html_to_text = lru_cache(maxsize=FILTER_CACHE_SIZE)(html_to_text)
_wrap = lru_cache(maxsize=FILTER_CACHE_SIZE)(wrap)


def safe_body(html: str) -> Markup:
    """The one field rendered as HTML: sanitised again here (defence in depth), then trusted."""
    return Markup(_clean_body(html))


def _uncached_safe_body(html: str) -> Markup:
    return Markup(clean_body_html(html))


def cached_wrap(text, width: int = WIDTH) -> str:
    """:func:`digest.render.text.wrap`, once per distinct (text, width)."""
    # Jinja may hand over Markup or other str subclasses: key on the plain string, which
    # is all wrap() looks at (it calls str() first).
    return _wrap(str(text), width)


def cached_html_to_text(html: str) -> str:
    return _html_to_text(str(html))


def make_environment(templates_dir: Path, *, cached_filters: bool = True) -> Environment:
    """The email templates' environment; ``cached_filters=False`` computes every filter
    afresh (the reference pipeline, see :class:`digest.render.Renderer`)."""
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
        safe_body=safe_body if cached_filters else _uncached_safe_body,
        html_to_text=cached_html_to_text if cached_filters else html_to_text,
        wrap=cached_wrap if cached_filters else wrap,
        join_topics=join_topics,
        contact_href=contact_href,
        host=host,
    )
    env.globals["token"] = token
    return env
