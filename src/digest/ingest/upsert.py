"""Store drafts: insert new items, update edited ones, leave unchanged ones alone.

Items are keyed by guid (a feed item without one got its link as guid). An item whose
``content_hash`` matches the stored row is not written at all, so re-ingesting an
unchanged feed changes no row. Each item is stored in its own savepoint: one item the
database refuses is rejected with the reason, and the rest of the source is kept.
"""

from __future__ import annotations

import logging
from typing import Literal, Mapping

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..models import Briefing, Topic, Video
from .drafts import BriefingDraft, Draft, VideoDraft

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
        "published_at": draft.published_at,
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
        "published_at": draft.published_at,
    }


def store_item(session: Session, source_id: int | None, draft: Draft, topics: Mapping[str, Topic]) -> Outcome:
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
    row.source_id = source_id
    row.content_hash = content_hash
    row.topics = [topics[slug] for slug in draft.topics]
    session.flush()
    return outcome


class StoreError(Exception):
    pass


def store_items(session: Session, source_id: int | None, drafts: list[Draft], topics: Mapping[str, Topic]):
    """Yield (draft, outcome or StoreError) for each draft; failures roll back only their item."""
    for draft in drafts:
        try:
            with session.begin_nested():
                outcome = store_item(session, source_id, draft, topics)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            log.warning("could not store %r: %s", draft.guid, reason)
            yield draft, StoreError(f"could not store: {reason}")
            continue
        yield draft, outcome
