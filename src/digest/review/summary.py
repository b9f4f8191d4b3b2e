"""What an editor is shown of an edition under review (the web process's review page and
``digest preview --serve``'s): its snapshot and whether it may go, its drafted bodies with
the email checklist's result on each, the proofs sent, the approvals, and whether it is held
or cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..deliver.ledger import find_edition
from ..models import DraftBody, EditionControl, EditionSnapshot, RenderedBody, ReviewProof
from ..runtime import Runtime
from .approval import approvals
from .checklist import BodyChecklist, failing_checks
from .gate import waiting_reason
from .snapshot import current_snapshot


@dataclass(frozen=True)
class ReviewBody:
    """A drafted body as the review pages list it."""

    id: int  # the draft body's (its view's address)
    topics: str
    readers: int
    html_bytes: int
    subject: str
    preheader: str
    checklist: BodyChecklist | None  # None: drafted before drafts were checked


def edition_day(runtime: Runtime, value: str | None) -> date | None:
    """The edition a review page is asked for: ``YYYY-MM-DD``, none (today in the
    publication's zone), or None when it is not a date."""
    if not value:
        return datetime.now(ZoneInfo(runtime.settings.config.schedule.default_timezone)).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def review_context(runtime: Runtime, day: date) -> dict:
    with runtime.sessions() as session:
        edition = find_edition(session, day)
        snapshot = current_snapshot(session, edition.id) if edition is not None else None
        page = {"day": day, "snapshot": snapshot, "bodies": [], "approvals": [], "proofs": [], "control": None,
                "waiting": waiting_reason(session, day) if snapshot is not None else None,
                "approval_required": runtime.settings.config.review.approval == "required",
                "max_bytes": runtime.settings.config.selection.max_html_bytes, "failed_checks": []}
        if edition is None:
            return page
        page["control"] = session.get(EditionControl, edition.id)
        page["approvals"] = [(a, session.get(EditionSnapshot, a.snapshot_id).version)
                             for a in approvals(session, edition.id)]
        if snapshot is not None:
            rows = session.execute(
                select(DraftBody.id, DraftBody.topics, DraftBody.readers, DraftBody.html_bytes, RenderedBody.subject,
                       RenderedBody.preheader, DraftBody.checklist)
                .join(RenderedBody, RenderedBody.id == DraftBody.body_id)
                .where(DraftBody.snapshot_id == snapshot.id).order_by(DraftBody.readers.desc(), DraftBody.id)).all()
            page["bodies"] = [ReviewBody(*row[:6], BodyChecklist.of(row[6])) for row in rows]
            page["failed_checks"] = failing_checks(session, snapshot.id)  # what Approve asks to confirm
            page["proofs"] = session.scalars(select(ReviewProof).where(ReviewProof.snapshot_id == snapshot.id)
                                             .order_by(ReviewProof.id)).all()
        return page
