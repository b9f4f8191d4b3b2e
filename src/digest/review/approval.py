"""Approving an edition: who approved which snapshot (by its fingerprint), and when.

An approval names the fingerprint the editor saw: if the edition was redrafted since (a
new snapshot) or its items were edited since the draft, the approval is refused, so what
goes out is always what someone looked at. While a drafted body fails a check of the email
checklist, the review pages approve only when the editor confirms approving despite it; the
approval records the failed checks whichever way it was given.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..deliver.ledger import find_edition
from ..errors import DigestError
from ..models import EditionApproval, EditionSnapshot
from .checklist import failing_checks
from .snapshot import content_changed, current_snapshot


class ReviewError(DigestError):
    """An editorial command that cannot be done as asked (one line, exit status 2)."""


def approval_of(session: Session, snapshot: EditionSnapshot) -> EditionApproval | None:
    return session.scalars(select(EditionApproval).where(EditionApproval.snapshot_id == snapshot.id,
                                                         EditionApproval.fingerprint == snapshot.fingerprint)
                           .order_by(EditionApproval.id).limit(1)).first()


def approvals(session: Session, edition_id: int) -> list[EditionApproval]:
    """Every approval of the edition, oldest first (the review page's history)."""
    return list(session.scalars(select(EditionApproval).where(EditionApproval.edition_id == edition_id)
                                .order_by(EditionApproval.id)))


def approve(session: Session, day: date, *, by: str, now: datetime, fingerprint: str | None = None,
            despite: bool | None = None) -> EditionApproval:
    """Record ``by``'s approval of ``day``'s current snapshot (committed). ``fingerprint``:
    the one the editor saw; refused when the snapshot is no longer that one. ``despite``:
    whether the editor confirmed approving despite failed checks (a review page's
    checkbox): False refuses while a check fails; None does not ask."""
    edition = find_edition(session, day)
    snapshot = current_snapshot(session, edition.id) if edition is not None else None
    if snapshot is None:
        raise ReviewError(f"edition {day} is not drafted yet: run 'digest draft --date {day}' and look at it first")
    if fingerprint is not None and fingerprint != snapshot.fingerprint:
        raise ReviewError(f"edition {day} changed since it was viewed: its snapshot is now v{snapshot.version} "
                          f"({snapshot.fingerprint[:12]}), not {fingerprint[:12]}; look at it again before approving")
    if content_changed(session, snapshot):
        raise ReviewError(f"items of edition {day}'s snapshot were edited since it was drafted: run "
                          f"'digest redraft --date {day}', look at it again, then approve")
    existing = approval_of(session, snapshot)
    if existing is not None:
        return existing
    failed = failing_checks(session, snapshot.id)
    if failed and despite is False:
        raise ReviewError(f"edition {day} fails {len(failed)} check(s) of the email checklist ({'; '.join(failed)}): "
                          "confirm it ('approve despite' on the review page, 'digest approve --despite') to approve it anyway, "
                          "or fix the items and redraft")
    approval = EditionApproval(edition_id=edition.id, snapshot_id=snapshot.id, fingerprint=snapshot.fingerprint,
                               approved_by=by[:200], approved_at=now, failed_checks="\n".join(failed) or None)
    session.add(approval)
    session.commit()
    return approval
