"""An editor's control over an edition: its snapshot (the items it may carry, fixed when
drafted), the bodies drafted from it, the proofs sent, and who approved what.

See :mod:`digest.review` for the flow these record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import AwareDateTime, Base, BigId, utcnow


class EditionSnapshot(Base):
    """The items an edition may carry, fixed at draft time. A redraft adds a version; the
    highest version is the edition's current snapshot. ``taken_at`` is the cut: items
    published after it wait for the next edition."""

    __tablename__ = "edition_snapshots"
    __table_args__ = (UniqueConstraint("edition_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    taken_at: Mapped[datetime] = mapped_column(AwareDateTime())
    #: sha256 over every item's content (not only its id): an edited item changes it.
    fingerprint: Mapped[str] = mapped_column(String(64))
    briefing_ids: Mapped[str] = mapped_column(Text, default="")  # comma-separated ids
    video_ids: Mapped[str] = mapped_column(Text, default="")
    drafted_by: Mapped[str] = mapped_column(String(200))


class DraftBody(Base):
    """One distinct body a snapshot's edition will send, as drafted: its topic set, how
    many readers had it when drafted, and the email checklist's result on it."""

    __tablename__ = "draft_bodies"
    __table_args__ = (Index("ix_draft_bodies_snapshot_id", "snapshot_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("edition_snapshots.id", ondelete="CASCADE"))
    body_id: Mapped[int] = mapped_column(ForeignKey("rendered_bodies.id"))
    topics: Mapped[str] = mapped_column(String(1000))  # comma-separated slugs
    readers: Mapped[int] = mapped_column(Integer)
    html_bytes: Mapped[int] = mapped_column(Integer)
    #: ``[{"check": name, "problems": [...]}]`` (:func:`digest.review.checklist.check_drafted_body`);
    #: None for a body drafted before drafts were checked.
    checklist: Mapped[list | None] = mapped_column(JSON)


class EditionApproval(Base):
    """An editor's approval of one snapshot (by its fingerprint)."""

    __tablename__ = "edition_approvals"
    __table_args__ = (Index("ix_edition_approvals_edition_id", "edition_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("edition_snapshots.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    #: The checks its bodies failed when approved, one per line (``[topics] check``): the
    #: review pages approve only once the editor confirmed approving despite them.
    failed_checks: Mapped[str | None] = mapped_column(Text)


class ReviewProof(Base):
    """A proof of a drafted edition sent to a seed address (recorded for the review page)."""

    __tablename__ = "review_proofs"
    __table_args__ = (Index("ix_review_proofs_snapshot_id", "snapshot_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("edition_snapshots.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    topics: Mapped[str] = mapped_column(String(1000))
    subject: Mapped[str] = mapped_column(String(500))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)


class EditionControl(Base):
    """An editor's hold or cancellation of an edition (one row per edition, once touched).

    Held: no batch of it starts (checked before each batch, beside the guards:
    :func:`digest.report.guards.held_reason`) until ``digest resume``. Cancelled: for good;
    every reader not sent to is recorded as skipped (``cancelled``).
    """

    __tablename__ = "edition_controls"

    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True)
    held_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    held_by: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
