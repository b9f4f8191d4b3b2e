"""The email checklist (EMAIL-CHECKLIST.md) as results an editor reads: for a message, each
check's name and what fails, in plain words, naming where; nothing raises.

The checks read only the message and, when given, the Selection its body was rendered from
and the publication config (:mod:`.checklist_email`, :mod:`.checklist_items`,
:mod:`.checklist_rendering`). The spam score and the browser rules need SpamAssassin and
Chromium: they stay in the tests, which run these same checks on every email they build.

When an edition is drafted each distinct body is checked as a reader gets it
(:func:`check_drafted_body`) and the results are stored with the body (``draft_bodies.checklist``)
for the review pages; approving from a page while a check fails needs the editor to confirm
it, and the approval records what failed (:func:`failing_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..links import LinkMaker
from ..message import build_message
from ..models import DraftBody
from .checklist_email import (HTTPS, EmailView, MissingParts, no_tokens_left, standing_disclaimer, structure,
                              subject_truthful, unsubscribe_and_address)
from .checklist_items import disclosures_next_to_items, sponsored_labelled_wherever_shown
from .checklist_rendering import document, sanitised, size_budget

#: Every check, by the name an editor reads, in the order of EMAIL-CHECKLIST.md.
CHECKS = (
    ("headers and structure", structure),
    ("no placeholder left", no_tokens_left),
    ("subject tells the truth", subject_truthful),
    ("unsubscribe link and postal address", unsubscribe_and_address),
    ("disclosures next to each item", disclosures_next_to_items),
    ("sponsored pieces labelled wherever shown", sponsored_labelled_wherever_shown),
    ("standing disclaimer in the footer", standing_disclaimer),
    ("no active content", sanitised),
    ("size budget", size_budget),
    ("email document (doctype, language, preheader, tables, alt text, dark mode)", document),
)
#: The address a drafted body is checked for: a reserved domain, never sent to.
SAMPLE_READER = "reader@example.com"


@dataclass(frozen=True)
class CheckResult:
    name: str
    problems: tuple[str, ...]  # empty: passed

    @property
    def passed(self) -> bool:
        return not self.problems


def run_checklist(msg: EmailMessage, selection=None, config=None, *,
                  schemes: tuple[str, ...] = HTTPS) -> list[CheckResult]:
    """Every check on ``msg``. A check that cannot run (the HTML defeats it) fails, saying so."""
    try:
        view = EmailView.of(msg, schemes=schemes)
    except MissingParts as exc:
        return [CheckResult(name, (str(exc),)) for name, _ in CHECKS]
    results = []
    for name, check in CHECKS:
        try:
            problems = tuple(check(view, selection, config))
        except Exception as exc:  # a broken message fails the check, it does not stop the others
            problems = (f"the check could not run on this email: {type(exc).__name__}: {exc}",)
        results.append(CheckResult(name, problems))
    return results


# ----------------------------------------------------------------- a drafted body


def check_drafted_body(settings, rendered, selection, day, now: datetime) -> list[dict]:
    """The checklist of one drafted body, as stored: ``[{"check": name, "problems": [...]}]``.

    The body is checked as a reader gets it: dated in the publication's zone on the
    edition's day, its tokens filled with a sample reader's links (the proof's: made for
    no subscriber, on the configured base URL). Those links are only read, never sent, so
    they are signed with a throwaway key. On a plain-http base URL (a local set-up) an http
    List-Unsubscribe is accepted: every body would fail on a scheme no editor can change.
    """
    config = settings.config
    zone = ZoneInfo(config.schedule.default_timezone)
    sent = now if now.astimezone(zone).date() == day else datetime.combine(day, time(12), zone)
    links = LinkMaker(settings.base_url, "review-checklist: never sent")
    msg = build_message(rendered.dated(config.schedule.default_timezone, sent), config=config, to=SAMPLE_READER,
                        tokens=links.token_values(0, SAMPLE_READER, 0), date=sent)
    schemes = HTTPS if settings.base_url.startswith("https:") else ("https", "http")
    results = run_checklist(msg, selection, config, schemes=schemes)
    return [{"check": r.name, "problems": list(r.problems)} for r in results]


@dataclass(frozen=True)
class BodyChecklist:
    """A drafted body's stored checklist, as the review pages show it."""

    total: int
    failed: tuple[CheckResult, ...]

    @classmethod
    def of(cls, stored: list[dict] | None) -> "BodyChecklist | None":
        if stored is None:
            return None  # drafted before the checklist was run on drafts
        results = [CheckResult(r["check"], tuple(r["problems"])) for r in stored]
        return cls(len(results), tuple(r for r in results if not r.passed))

    @property
    def passed(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        if self.passed:
            return f"passes all {self.total} checks"
        return f"fails {len(self.failed)} of {self.total} checks: " + "; ".join(
            f"{r.name} ({'; '.join(r.problems)})" for r in self.failed)


def failing_checks(session: Session, snapshot_id: int) -> list[str]:
    """The failed checks of a snapshot's bodies, one line each: ``[topics] check name``."""
    rows = session.execute(select(DraftBody.topics, DraftBody.checklist).where(DraftBody.snapshot_id == snapshot_id)
                           .order_by(DraftBody.readers.desc(), DraftBody.id)).all()
    lines = []
    for topics, stored in rows:
        checklist = BodyChecklist.of(stored)
        lines += [f"[{topics}] {r.name}" for r in (checklist.failed if checklist else ())]
    return lines
