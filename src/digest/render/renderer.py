"""Selection -> RenderedEmail: Jinja2 -> MJML -> HTML -> inlined CSS, plus subject,
preheader and the plain-text part, all from the same data.

One :class:`Renderer` is built per process (or per edition) and reused: the Jinja
environment and compiled templates are cached on it. It never touches the database, and
per-recipient values stay as ``%%tokens%%`` so one body serves every subscriber who got
the same selection.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateError, TemplateNotFound, TemplateSyntaxError

from ..content import SENT_DATE, TOKEN_NAMES, RenderedEmail, Selection, token, tokens_in
from ..paths import email_templates_dir
from ..settings import PublicationConfig
from ..utm import add_utm
from .assembly import Assembler
from .budget import fit_to_budget
from .environment import make_environment
from .errors import RenderError
from .fragment_inline import inline_body
from .guard import drop_unsafe_urls, require_disclosures
from .inline import inline_css
from .mjml import compile_mjml

HTML_TEMPLATE = "base.mjml.j2"
SUBJECT_TEMPLATE = "subject.txt.j2"
PREHEADER_TEMPLATE = "preheader.txt.j2"
TEXT_TEMPLATE = "body.txt.j2"
PREHEADER_MAX = 150
#: An email carrying more pieces than this (briefings and recommended) opens with an
#: "In this issue" list: past a phone screen or two a reader needs to know what is inside.
CONTENTS_AFTER = 4
#: A candidate whose MJML output is this much over the budget cannot fit once inlined
#: (inlining adds bytes; it only saves the few bytes of entities and the inlined block),
#: so the budget search skips premailer for it: most of a 200-item edition's cost.
HOPELESS_FACTOR = 1.25


@dataclass
class StageTimings:
    """Seconds spent per stage since the last :meth:`reset` (read by the benchmark)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("jinja", "mjml", "premailer", "text"), 0.0))
    html_renders: int = 0
    assembled: int = 0  # of html_renders, put together from cached sections (see .assembly)

    def reset(self) -> None:
        for stage in self.seconds:
            self.seconds[stage] = 0.0
        self.html_renders = 0
        self.assembled = 0

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] += time.perf_counter() - started


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;·—-") + "…"


class Renderer:
    """Renders selections; ``fast=False`` inlines each body as one whole document and
    computes every template filter afresh (the pipeline as it was before the fast path).

    The whole-document path is what the fast path (fragments inlined once per process, see
    :mod:`digest.render.fragment_inline`) must reproduce byte for byte: it is kept callable
    as the reference the equivalence tests compare against, and as a switch to rule the
    fast path out when an email looks wrong.
    """

    def __init__(self, config: PublicationConfig, templates_dir: Path | None = None, *, fast: bool = True) -> None:
        self.config = config
        self.fast = fast
        self.templates_dir = templates_dir or email_templates_dir()
        self.env = make_environment(self.templates_dir, cached_filters=fast)
        self.timings = StageTimings()
        self.assembler = Assembler() if fast else None
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
        return {
            "config": self.config,
            "pub": self.config.publication,
            "branding": self.config.branding,
            "disclaimer": self.config.disclaimer.text,
            "selection": selection,
            "edition_date": selection.edition_date,
            "sections": sections,
            "topic_titles": [s.title for s in sections],
            "briefing_count": sum(len(s.briefings) for s in sections),
            "show_contents": sum(len(s.briefings) for s in sections) + len(selection.recommended) > CONTENTS_AFTER,
            # The heading's date: the reader's own date when the email is sent (a token:
            # a Sunday-morning email in Sydney must not say Saturday).
            "sent_date": SENT_DATE,
            "videos": selection.videos,
            "recommended": selection.recommended,
            "related": selection.related,
            # The related block lists at most max_related headlines, then "and N more":
            # when the budget moves 180 briefings there, a wall of headlines helps nobody.
            "related_limit": self.config.selection.max_related,
            "note": selection.note,
            "links": {name: token(name) for name in TOKEN_NAMES},
        }

    # ------------------------------------------------------------ stages

    def _html(self, selection: Selection, preheader: str, subject: str) -> str:
        """One full HTML candidate (the budget may ask for several)."""
        context = self._context(selection) | {"preheader": preheader, "subject": subject}
        started = time.perf_counter()
        source = self._render_template(HTML_TEMPLATE, context)
        self.timings.add("jinja", started)
        self.timings.html_renders += 1

        if self.assembler is not None:
            started = time.perf_counter()
            html = self.assembler.assemble(source, subject, preheader, self._finished_sections)
            self.timings.add("premailer", started)
            # Only a body within the budget: one over it is judged as before (see HOPELESS_FACTOR).
            # Inlining keeps the style blocks and classes and only adds attributes, so a
            # finished body within the budget had MJML output far under HOPELESS_FACTOR times it.
            if html is not None and len(html.encode("utf-8")) <= self.config.selection.max_html_bytes:
                self.timings.assembled += 1
                return html

        started = time.perf_counter()
        html = compile_mjml(source, HTML_TEMPLATE)
        self.timings.add("mjml", started)

        if len(html.encode("utf-8")) > HOPELESS_FACTOR * self.config.selection.max_html_bytes:
            return html  # over budget whatever premailer does; never sent (see HOPELESS_FACTOR)
        started = time.perf_counter()
        finished = inline_body(source, html, (subject, preheader)) if self.fast else inline_css(html)
        self.timings.add("premailer", started)
        if self.assembler is not None:
            self.assembler.learn(source, html, finished, subject, preheader)
        return finished

    def _finished_sections(self, source: str) -> str:
        """A document of some sections of a body (no title, no preview) compiled and
        inlined the usual way, for the assembler to learn their pieces."""
        return inline_body(source, compile_mjml(source, HTML_TEMPLATE))

    def _subject_and_preheader(self, selection: Selection) -> tuple[str, str]:
        context = self._context(selection)
        subject = _one_line(self._render_template(SUBJECT_TEMPLATE, context))
        preheader = _shorten(_one_line(self._render_template(PREHEADER_TEMPLATE, context)), PREHEADER_MAX)
        return subject, preheader

    def render(self, selection: Selection) -> RenderedEmail:
        self.timings.reset()
        selection = drop_unsafe_urls(require_disclosures(selection, strict=self.config.selection.strict))
        selection = add_utm(selection, self.config.tracking)  # links as sent, in previews and proofs too

        def candidate_html(candidate: Selection) -> str:
            subject, preheader = self._subject_and_preheader(candidate)
            return self._html(candidate, preheader, subject)

        fitted, html = fit_to_budget(selection, candidate_html, self.config.selection.max_html_bytes)
        subject, preheader = self._subject_and_preheader(fitted)

        started = time.perf_counter()
        text = self._render_template(TEXT_TEMPLATE, self._context(fitted) | {"preheader": preheader})
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        self.timings.add("text", started)

        used = tokens_in(html) | tokens_in(text) | tokens_in(subject)
        return RenderedEmail(subject=subject, preheader=preheader, html=html, text=text, tokens=frozenset(used))
