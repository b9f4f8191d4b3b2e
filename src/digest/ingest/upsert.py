"""Store drafts: insert new items, update edited ones, leave unchanged ones alone.

Items are keyed by guid (a feed item without one got its link as guid). An item whose
``content_hash`` matches the stored row is not written at all, so re-ingesting an
unchanged feed changes no row. Each item is stored in its own savepoint: one item the
database refuses is rejected with the reason, and the rest of the source is kept.

An item the feed gives no date (``published_at`` None) is dated ``undated_at`` when it is
first stored and keeps that date afterwards: the time first seen stays the time first seen,
and an unchanged undated item stays unchanged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal, Mapping

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..models import Briefing, Topic, Video
from .drafts import BriefingDraft, Draft, VideoDraft
from .refusals import ItemRejected

log = logging.getLogger(__name__)

Outcome = Literal["new", "updated", "unchanged"]


def _briefing_fields(draft: BriefingDraft) -> dict:
    sponsor = draft.sponsor
    return {
        "url": draft.url,
        "title": draft.title,
        "body_html": draft.body_html,
        "excerpt": draft.excerpt,
        "author": draft.author,
        "attribution": draft.attribution,
        "author_disclosure": draft.author_disclosure,
        "is_sponsored": sponsor is not None,
        "sponsor_payer": sponsor.payer if sponsor else None,
        "sponsor_amount": sponsor.amount if sponsor else None,
        "sponsor_form": sponsor.form if sponsor else None,
        "sponsor_disclosure": sponsor.text if sponsor else None,
        "is_editor_pick": draft.is_editor_pick,
    }


def _video_fields(draft: VideoDraft) -> dict:
    return {
        "url": draft.url,
        "title": draft.title,
        "description": draft.description,
        "thumbnail_url": draft.thumbnail_url,
    }


def store_item(session: Session, source_id: int | None, draft: Draft, topics: Mapping[str, Topic],
               undated_at: datetime | None = None) -> Outcome:
    model = Video if isinstance(draft, VideoDraft) else Briefing
    fields = _video_fields(draft) if isinstance(draft, VideoDraft) else _briefing_fields(draft)
    content_hash = draft.content_hash()
    row = session.scalar(select(model).where(model.guid == draft.guid))
    if row is not None and row.content_hash == content_hash:
        return "unchanged"
    outcome: Outcome = "updated"
    if row is None:
        row = model(guid=draft.guid)
        session.add(row)
        outcome = "new"
    for name, value in fields.items():
        setattr(row, name, value)
    if draft.published_at is not None:
        row.published_at = draft.published_at
    elif row.published_at is None:
        if undated_at is None:
            raise ValueError(f"{draft.guid!r} has no date and no time first seen was given")
        row.published_at = undated_at
    row.source_id = source_id
    row.content_hash = content_hash
    row.topics = [topics[slug] for slug in draft.topics]
    session.flush()
    return outcome


class StoreError(ItemRejected):
    def __init__(self, message: str):
        super().__init__("not-stored", message)


def store_items(session: Session, source_id: int | None, drafts: list[Draft], topics: Mapping[str, Topic],
                undated_at: datetime | None = None):
    """Yield (draft, outcome or StoreError) for each draft; failures roll back only their item."""
    for draft in drafts:
        try:
            with session.begin_nested():
                outcome = store_item(session, source_id, draft, topics, undated_at)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            log.warning("could not store %r: %s", draft.guid, reason)
            yield draft, StoreError(f"could not store: {reason}")
            continue
        yield draft, outcome
