"""Content: topics, sources, briefings and videos, and the topic links of each.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import AwareDateTime, Base, BigId, utcnow


briefing_topics = Table(
    "briefing_topics",
    Base.metadata,
    Column("briefing_id", ForeignKey("briefings.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)

video_topics = Table(
    "video_topics",
    Base.metadata,
    Column("video_id", ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)

subscriber_topics = Table(
    "subscriber_topics",
    Base.metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"Topic({self.slug!r})"


class Source(Base):
    """A configured or ad-hoc feed / folder, with what conditional requests need."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(2000), unique=True)  # URL or absolute folder path
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetched_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class Briefing(Base):
    __tablename__ = "briefings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    guid: Mapped[str] = mapped_column(String(1000), unique=True)
    url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(500))
    body_html: Mapped[str] = mapped_column(Text, default="")
    excerpt: Mapped[str] = mapped_column(String(500), default="")
    author: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[datetime] = mapped_column(AwareDateTime(), index=True)
    attribution: Mapped[str | None] = mapped_column(Text)
    author_disclosure: Mapped[str | None] = mapped_column(Text)
    is_sponsored: Mapped[bool] = mapped_column(Boolean, default=False)
    sponsor_payer: Mapped[str | None] = mapped_column(String(500))
    sponsor_amount: Mapped[str | None] = mapped_column(String(200))
    sponsor_form: Mapped[str | None] = mapped_column(String(200))
    sponsor_disclosure: Mapped[str | None] = mapped_column(Text)  # the full paid-promotion sentence
    is_editor_pick: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow, onupdate=utcnow)

    source: Mapped[Source | None] = relationship()
    topics: Mapped[list[Topic]] = relationship(secondary=briefing_topics, order_by=Topic.slug)


class Video(Base):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    guid: Mapped[str] = mapped_column(String(1000), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    thumbnail_url: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime] = mapped_column(AwareDateTime(), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow, onupdate=utcnow)

    source: Mapped[Source | None] = relationship()
    topics: Mapped[list[Topic]] = relationship(secondary=video_topics, order_by=Topic.slug)
