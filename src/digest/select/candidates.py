"""The candidate pool: content of the selection window, loaded once into plain values.

A selector serves every subscriber of an edition from this pool, so the database is read
once per edition, not once per reader. Items keep their UTC times here; dates become
zone-free tokens in the selection and labels in the reader's zone only when sent.

This is where stored rows enter rendering, so every text is cleaned here again
(:func:`digest.textclean.clean_text`, once per item per edition): a row stored before
ingest cleaned its text (a title with a raw ``\x01`` or U+FFFE) cannot break a body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .. import models
from ..content import SponsorDisclosure
from ..textclean import clean_optional


@dataclass(frozen=True)
class BriefingCandidate:
    id: int
    guid: str
    url: str | None
    title: str
    body_html: str
    excerpt: str
    author: str | None
    published_at: datetime
    topics: tuple[str, ...]
    attribution: str | None
    author_disclosure: str | None
    sponsor: SponsorDisclosure | None
    is_editor_pick: bool
    cleaned: bool = False  # its stored text held characters no email can carry (see the module's doc)

    @property
    def missing_disclosures(self) -> tuple[str, ...]:
        """What the law or the publisher requires next to this piece and is absent."""
        missing = []
        if not _present(self.attribution):
            missing.append("source attribution")
        if not _present(self.author_disclosure):
            missing.append("author disclosure")
        if self.sponsor is not None and not _sponsor_disclosed(self.sponsor):
            missing.append("paid-promotion disclosure (payer, amount, form)")
        return tuple(missing)


@dataclass(frozen=True)
class VideoCandidate:
    id: int
    guid: str
    url: str
    title: str
    description: str
    thumbnail_url: str | None
    published_at: datetime
    topics: tuple[str, ...]
    cleaned: bool = False


_BRIEFING_TEXT = ("url", "title", "body_html", "excerpt", "author", "attribution", "author_disclosure",
                  "sponsor_payer", "sponsor_amount", "sponsor_form", "sponsor_disclosure")
_VIDEO_TEXT = ("url", "title", "description", "thumbnail_url")


def _cleaned(row, names: tuple[str, ...]) -> tuple[dict[str, str | None], bool]:
    """The row's text fields, cleaned, and whether cleaning changed any of them."""
    stored = {name: getattr(row, name) for name in names}
    cleaned = {name: clean_optional(value) for name, value in stored.items()}
    return cleaned, cleaned != stored


def _present(text: str | None) -> bool:
    return bool(text and text.strip())


def _sponsor_disclosed(sponsor: SponsorDisclosure) -> bool:
    """The full published sentence, or all three facts a 17(b) disclosure needs."""
    if _present(sponsor.text):
        return True
    return all(_present(v) for v in (sponsor.payer, sponsor.amount, sponsor.form))


def _sponsor(row: models.Briefing, text: dict[str, str | None]) -> SponsorDisclosure | None:
    if not row.is_sponsored:
        return None
    return SponsorDisclosure(
        payer=text["sponsor_payer"],
        amount=text["sponsor_amount"],
        form=text["sponsor_form"],
        text=text["sponsor_disclosure"],
    )


def load_briefings(session: Session, since: datetime | None, until: datetime | None, *,
                   ids: Iterable[int] | None = None) -> list[BriefingCandidate]:
    """Briefings with ``since < published_at <= until`` (or those of ``ids``), oldest first."""
    window = ([models.Briefing.id.in_(sorted(ids))] if ids is not None
              else [models.Briefing.published_at > since, models.Briefing.published_at <= until])
    rows = session.scalars(
        select(models.Briefing)
        .where(*window)
        .options(selectinload(models.Briefing.topics))
        .order_by(models.Briefing.published_at, models.Briefing.id)
    )
    candidates = []
    for row in rows:
        text, changed = _cleaned(row, _BRIEFING_TEXT)
        candidates.append(BriefingCandidate(
            id=row.id,
            guid=row.guid,
            url=text["url"],
            title=text["title"],
            body_html=text["body_html"] or "",
            excerpt=text["excerpt"] or "",
            author=text["author"],
            published_at=row.published_at,
            topics=tuple(t.slug for t in row.topics),
            attribution=text["attribution"],
            author_disclosure=text["author_disclosure"],
            sponsor=_sponsor(row, text),
            is_editor_pick=bool(row.is_editor_pick),
            cleaned=changed,
        ))
    return candidates


def load_videos(session: Session, since: datetime | None, until: datetime | None, *,
                ids: Iterable[int] | None = None) -> list[VideoCandidate]:
    """Videos with ``since < published_at <= until`` (or those of ``ids``), oldest first."""
    window = ([models.Video.id.in_(sorted(ids))] if ids is not None
              else [models.Video.published_at > since, models.Video.published_at <= until])
    rows = session.scalars(
        select(models.Video)
        .where(*window)
        .options(selectinload(models.Video.topics))
        .order_by(models.Video.published_at, models.Video.id)
    )
    candidates = []
    for row in rows:
        text, changed = _cleaned(row, _VIDEO_TEXT)
        candidates.append(VideoCandidate(
            id=row.id,
            guid=row.guid,
            url=text["url"],
            title=text["title"],
            description=text["description"] or "",
            thumbnail_url=text["thumbnail_url"],
            published_at=row.published_at,
            topics=tuple(t.slug for t in row.topics),
            cleaned=changed,
        ))
    return candidates


def earliest_last_digest(session: Session) -> datetime | None:
    """The oldest ``last_digest_at`` among active subscribers (None: nobody has had one)."""
    return session.scalar(
        select(func.min(models.Subscriber.last_digest_at)).where(
            models.Subscriber.status == models.SubscriberStatus.ACTIVE,
            models.Subscriber.last_digest_at.is_not(None),
        )
    )
