"""Selection -> RenderedEmail: Jinja2 -> MJML -> HTML, plus subject, preheader and the
plain-text part, all from the same data.

One path: the templates write each element's styles from the styles table
(:mod:`.styles`), a briefing's own HTML is inlined by premailer once per distinct body
(the ``|safe_body`` filter), and MJML's output is the email. A body is a combination of
the day's items: what depends on one item only (its card, its text) or on nothing (the
footer) is written once per renderer (``part()``), so a body mostly joins parts.

One :class:`Renderer` is built per process (or per edition) and reused. It never touches
the database, and per-recipient values stay as ``%%tokens%%`` so one body serves every
subscriber who got the same selection."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateError, TemplateNotFound, TemplateSyntaxError

from ..content import TOKEN_NAMES, RenderedEmail, Selection, token, tokens_in
from ..date_tokens import SENT_DATE
from ..paths import email_templates_dir
from ..settings import PublicationConfig
from ..utm import add_utm
from .budget import fit_to_budget
from .environment import body_filter, make_environment, part_function
from .errors import RenderError
from .guard import drop_unsafe_urls, require_disclosures
from .mjml_parts import MjmlParts
from .styles import load_styles

HTML_TEMPLATE = "base.mjml.j2"
SUBJECT_TEMPLATE = "subject.txt.j2"
PREHEADER_TEMPLATE = "preheader.txt.j2"
TEXT_TEMPLATE = "body.txt.j2"
PREHEADER_MAX = 150
#: An email carrying more pieces than this (briefings and recommended) opens with an
#: "In this issue" list: past a phone screen or two a reader needs to know what is inside.
CONTENTS_AFTER = 4

#: Not ``\n{3,}``: a pattern that starts with a literal is searched for by its prefix, 20x faster.
_BLANK_LINES = re.compile(r"\n\n\n+")


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;·—-") + "…"


class Renderer:
    """Renders selections with one Jinja environment, its compiled templates and the
    styles table, built once (per process, or per edition) and reused."""

    def __init__(self, config: PublicationConfig, templates_dir: Path | None = None) -> None:
        self.config = config
        self.templates_dir = templates_dir or email_templates_dir()
        self.env = make_environment(self.templates_dir)
        self.styles = load_styles(self.env, config.branding)
        self.env.filters["safe_body"] = body_filter(self.styles)
        # What every body shares. A part of the email that needs nothing else is written once
        # per renderer (part()); the constants are passed, not made template globals: each
        # Jinja context copies the globals, ~3 us a render or include for these.
        self._constants = {
            "config": config,
            "pub": config.publication,
            "branding": config.branding,
            "disclaimer": config.disclaimer.text,
            # The heading's date: the reader's own date when the email is sent (a token:
            # a Sunday-morning email in Sydney must not say Saturday).
            "sent_date": SENT_DATE,
            # The related block lists at most max_related headlines, then "and N more":
            # when the budget moves 180 briefings there, a wall of headlines helps nobody.
            "related_limit": config.selection.max_related,
            "links": {name: token(name) for name in TOKEN_NAMES},
            "css": self.styles.elements,
            "accent_on_dark": config.branding.accent_on_dark,  # a contrast search: once, not per body
        }
        self.env.globals["part"] = part_function(self.env, self._constants)
        self.mjml = MjmlParts()  # each distinct top-level section compiled once (mjml_parts)
        self._templates = {
            name: self._load(name) for name in (HTML_TEMPLATE, SUBJECT_TEMPLATE, PREHEADER_TEMPLATE, TEXT_TEMPLATE)
        }

    def _load(self, name: str) -> Template:
        try:
            return self.env.get_template(name)
        except TemplateSyntaxError as exc:
            raise RenderError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from exc
        except TemplateNotFound as exc:
            raise RenderError(f"email template {name!r} not found in {self.templates_dir}") from exc

    def _render_template(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self._templates[name].render(context)
        except TemplateError as exc:
            raise RenderError(f"{name}: {exc}") from exc

    # ------------------------------------------------------------ context

    def _context(self, selection: Selection) -> dict[str, Any]:
        sections = [s for s in selection.sections if s.briefings]
        briefing_count = sum(len(s.briefings) for s in sections)
        return self._constants | {
            "selection": selection,
            "edition_date": selection.edition_date,
            "sections": sections,
            "topic_titles": [s.title for s in sections],
            "briefing_count": briefing_count,
            "show_contents": briefing_count + len(selection.recommended) > CONTENTS_AFTER,
            "videos": selection.videos,
            "recommended": selection.recommended,
            "related": selection.related,
            "note": selection.note,
        }

    # ------------------------------------------------------------ stages

    def _html(self, selection: Selection, preheader: str, subject: str) -> str:
        """One full HTML candidate (the budget may ask for several)."""
        context = self._context(selection) | {"preheader": preheader, "subject": subject}
        return self.mjml.compile(self._render_template(HTML_TEMPLATE, context), HTML_TEMPLATE)

    def _subject_and_preheader(self, selection: Selection) -> tuple[str, str]:
        context = self._context(selection)
        subject = _one_line(self._render_template(SUBJECT_TEMPLATE, context))
        preheader = _shorten(_one_line(self._render_template(PREHEADER_TEMPLATE, context)), PREHEADER_MAX)
        return subject, preheader

    def render(self, selection: Selection) -> RenderedEmail:
        selection = drop_unsafe_urls(require_disclosures(selection, strict=self.config.selection.strict))
        selection = add_utm(selection, self.config.tracking)  # links as sent, in previews and proofs too

        heads = self._subject_and_preheader(selection)  # the usual case: the only candidate

        def candidate_html(candidate: Selection) -> str:
            subject, preheader = heads if candidate is selection else self._subject_and_preheader(candidate)
            return self._html(candidate, preheader, subject)

        fitted, html = fit_to_budget(selection, candidate_html, self.config.selection.max_html_bytes, self.mjml.size)
        subject, preheader = heads if fitted is selection else self._subject_and_preheader(fitted)

        text = self._render_template(TEXT_TEMPLATE, self._context(fitted) | {"preheader": preheader})
        text = _BLANK_LINES.sub("\n\n", text).strip() + "\n"

        used = self.mjml.tokens(html) | tokens_in(text) | tokens_in(subject)
        return RenderedEmail(subject=subject, preheader=preheader, html=html, text=text, tokens=frozenset(used))
