"""Pruning rendered bodies after ``[review] keep_bodies`` (default 400 days).

``digest audit`` rebuilds what a reader was sent from the stored body, so a body is kept
as long as an edition that used it is: an edition of date D keeps the bodies its batches
(and its drafts) used until D + keep_bodies, and a body used by no such edition is pruned
once it is itself that old. Pruning empties the body's content (``html``, ``text``) and
records when (``pruned_at``); the row stays, because batches point to it and its
fingerprint (sha256 of the content) still says what was sent. An audit of a pruned body
says so. A pruned body rendered again by a new edition gets its content back
(:func:`digest.deliver.plan.rows.store_body`).

Run daily by the worker (the scheduler lock's holder: :data:`digest.schedule.jobs.PRUNE_JOB`)
and by hand with ``digest db prune-bodies``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, union, update
from sqlalchemy.orm import Session

from ..models import Batch, DraftBody, Edition, EditionSnapshot, RenderedBody

_bodies = RenderedBody.__table__


def prune_bodies(session: Session, keep: timedelta, now: datetime) -> int:
    """Prune every body no edition younger than ``keep`` uses (committed); how many."""
    cutoff = now - keep
    young = cutoff.date()  # an edition of a later date keeps its bodies
    in_use = union(
        select(Batch.body_id).join(Edition, Edition.id == Batch.edition_id).where(Edition.date > young),
        select(DraftBody.body_id).join(EditionSnapshot, EditionSnapshot.id == DraftBody.snapshot_id)
        .join(Edition, Edition.id == EditionSnapshot.edition_id).where(Edition.date > young),
    )
    # NOT IN over the (few) bodies in use: one pass over each table, whatever their size.
    pruned = session.execute(
        update(_bodies)
        .where(_bodies.c.pruned_at.is_(None), _bodies.c.created_at < cutoff, _bodies.c.id.not_in(in_use))
        .values(html=None, text=None, pruned_at=now)
    ).rowcount
    session.commit()
    return pruned
