"""Taking an edition's snapshot: the items it may carry, fixed when it is drafted.

The fingerprint covers every item's content as selection reads it (title, body,
disclosures, topics, ...), not only ids: an item edited after the draft (a feed that
rewrote it) changes the fingerprint, so an approval never covers content nobody saw
(:func:`content_changed`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import EditionSnapshot
from ..select import Selector
from ..select.candidates import load_briefings, load_videos
from ..select.snapshot import parse_ids


def fingerprint_items(briefings: Iterable, videos: Iterable) -> str:
    """sha256 of the items' content, in id order (the candidates' generated reprs spell
    out every field: equal content, equal text)."""
    h = hashlib.sha256()
    for kind, items in (("briefing", briefings), ("video", videos)):
        for item in sorted(items, key=lambda c: c.id):
            h.update(f"{kind}:{item!r}\n".encode())
    return h.hexdigest()


def current_snapshot(session: Session, edition_id: int) -> EditionSnapshot | None:
    return session.scalars(select(EditionSnapshot).where(EditionSnapshot.edition_id == edition_id)
                           .order_by(EditionSnapshot.version.desc()).limit(1)).first()


def take_snapshot(session: Session, edition_id: int, selector: Selector, now: datetime, by: str) -> EditionSnapshot:
    """A new version of the edition's snapshot: every item the selector's pool holds (what
    any reader could be shown now). Committed."""
    briefings, videos = selector.pool()
    version = (session.scalar(select(func.max(EditionSnapshot.version))
                              .where(EditionSnapshot.edition_id == edition_id)) or 0) + 1
    snapshot = EditionSnapshot(
        edition_id=edition_id, version=version, taken_at=now, drafted_by=by[:200],
        fingerprint=fingerprint_items(briefings, videos),
        briefing_ids=",".join(str(c.id) for c in briefings), video_ids=",".join(str(v.id) for v in videos),
    )
    session.add(snapshot)
    session.commit()
    return snapshot


def content_changed(session: Session, snapshot: EditionSnapshot) -> bool:
    """Whether the snapshot's items now read differently from when it was taken (edited,
    retagged or deleted since)."""
    briefing_ids, video_ids = parse_ids(snapshot.briefing_ids), parse_ids(snapshot.video_ids)
    briefings = load_briefings(session, None, None, ids=briefing_ids) if briefing_ids else []
    videos = load_videos(session, None, None, ids=video_ids) if video_ids else []
    return fingerprint_items(briefings, videos) != snapshot.fingerprint
