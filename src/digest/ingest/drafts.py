"""What a parser hands to storage: plain values, one per item, already sanitised.

Parsers (feeds, WordPress, YouTube, folders) turn their input into these; tagging adds
topics; :mod:`digest.ingest.upsert` stores them. A parser never touches the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Sponsor:
    payer: str | None
    amount: str | None
    form: str | None
    text: str | None  # the full paid-promotion sentence, as published


@dataclass
class BriefingDraft:
    guid: str
    title: str
    published_at: datetime | None  # aware UTC; None: the feed gave no date (see run.py)
    url: str | None = None
    body_html: str = ""  # sanitised, disclosure paragraphs removed
    excerpt: str = ""
    author: str | None = None
    attribution: str | None = None
    author_disclosure: str | None = None
    sponsor: Sponsor | None = None
    is_editor_pick: bool = False
    categories: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # given explicitly (front matter) or set by tagging
    fallback_topic: bool = False  # tagging found nothing and used the fallback
    origin: str = ""  # where it came from, for rejections: a file name or the feed item's label

    kind = "briefing"

    @property
    def tagging_text(self) -> str:
        return f"{self.title}\n{self.body_html}"

    def content_hash(self) -> str:
        return _hash(self, exclude=_NOT_CONTENT)


@dataclass
class VideoDraft:
    guid: str
    title: str
    url: str
    published_at: datetime | None
    description: str = ""  # plain text
    thumbnail_url: str | None = None
    categories: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    fallback_topic: bool = False
    origin: str = ""

    kind = "video"

    @property
    def tagging_text(self) -> str:
        return f"{self.title}\n{self.description}"

    def content_hash(self) -> str:
        return _hash(self, exclude=_NOT_CONTENT)


Draft = BriefingDraft | VideoDraft
_NOT_CONTENT = ("fallback_topic", "origin")


@dataclass(frozen=True)
class Rejection:
    item: str  # what an operator can find it by: title, guid, link or file name
    reason: str
    code: str  # one of refusals.REASONS


@dataclass
class Parsed:
    """One source's items after parsing, with what was turned away and why."""

    kind: str  # the kind detected or configured: wordpress, youtube, rss, atom, folder
    items: list[Draft] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _hash(draft, *, exclude: tuple[str, ...]) -> str:
    data = {k: v for k, v in asdict(draft).items() if k not in exclude}
    data["topics"] = sorted(data["topics"])
    payload = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
