"""The delivery ledger: editions, rendered bodies, batches and one delivery row per reader and edition.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import AwareDateTime, Base, BigId, utcnow
from .compressed import CompressedText


class Edition(Base):
    """One day's digest (per send slot). Subscribers get the edition of their local date."""

    __tablename__ = "editions"
    __table_args__ = (UniqueConstraint("date", "slot"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    date: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(32), default="daily")
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    #: A sender got HTTP 429: no sender of this edition sends before this time (the
    #: provider's rate-limit reset; digest.deliver.providers.rate_limit).
    rate_limited_until: Mapped[datetime | None] = mapped_column(AwareDateTime(), nullable=True)


class RenderedBody(Base):
    """One rendered email body, stored once and shared by every batch that used it.

    Per-recipient values and dates stay as tokens here; sending fills the dates per batch,
    and the archive fills both for the viewer. ``html`` and ``text`` are stored
    zlib-compressed (:mod:`.compressed`), and kept for ``[review] keep_bodies`` after the
    last edition that used them (``digest audit`` rebuilds a reader's email from them);
    then they are pruned (``NULL``, ``pruned_at`` set), the row itself kept: its batches
    point to it, and its fingerprint still says what the content was.
    """

    __tablename__ = "rendered_bodies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the content
    subject: Mapped[str] = mapped_column(String(500))
    preheader: Mapped[str] = mapped_column(String(500), default="")
    html: Mapped[str | None] = mapped_column(CompressedText)  # None once pruned
    text: Mapped[str | None] = mapped_column(CompressedText)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    pruned_at: Mapped[datetime | None] = mapped_column(AwareDateTime())


class BatchStatus:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"
    ALL = (PENDING, SENDING, SENT, FAILED, AMBIGUOUS)


_SENT_UNRECORDED = text(f"status = '{BatchStatus.SENT}' AND NOT readers_recorded")
_IN_DOUBT = text("readers_in_doubt")


class Batch(Base):
    """Up to the provider's limit of recipients sharing one rendered body (each reader's
    dates filled in their zone: see :mod:`digest.deliver.dates`).

    Claimed by a compare-and-set on ``status`` (pending -> sending); whoever's UPDATE
    changed the row owns the send.
    """

    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("edition_id", "number"),
        Index("ix_batches_status", "status"),
        # Sent batches whose readers' last_digest_at is not yet recorded: a handful at most.
        Index("ix_batches_unrecorded", "id", postgresql_where=_SENT_UNRECORDED, sqlite_where=_SENT_UNRECORDED),
        # Settled batches some of whose readers are still ambiguous: a handful at most.
        Index("ix_batches_in_doubt", "id", postgresql_where=_IN_DOUBT, sqlite_where=_IN_DOUBT),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    body_id: Mapped[int] = mapped_column(ForeignKey("rendered_bodies.id"))
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.PENDING)
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    #: When each claim of this batch built its emails (UTC ISO 8601, space separated,
    #: oldest first): to the second, their ``Date`` header and the heading's date. A
    #: reader's is the last one at or before their delivery's ``sent_at`` (``digest
    #: audit``, :mod:`digest.deliver.send_moments`). One short string per batch, nothing per reader.
    send_moments: Mapped[str | None] = mapped_column(Text)
    #: Its readers' ``subscribers.last_digest_at`` has been set from it (once sent).
    readers_recorded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: Settled (sent or failed) with some readers still ``ambiguous`` (one recipient's
    #: message cut off): planning finds in-flight readers through the batches, so these
    #: are marked rather than every delivery row searched.
    readers_in_doubt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: PostgreSQL: the oldest transaction still running when its plan began reading its
    #: readers (``pg_snapshot_xmin``): a departure the plan may not have seen has a
    #: ``Subscriber.left_xid`` at least this. Empty on SQLite, and for batches planned
    #: before revision left23_departures (checked against every reader who left).
    plan_xmin: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)

    edition: Mapped[Edition] = relationship()
    body: Mapped[RenderedBody] = relationship()


class DeliveryStatus:
    QUEUED = "queued"  # in a batch not yet settled
    SENT = "sent"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"
    SKIPPED = "skipped"  # see skip_reason
    ALL = (QUEUED, SENT, FAILED, AMBIGUOUS, SKIPPED)


class Delivery(Base):
    """The ledger: at most one row per (subscriber, edition), whatever happens."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # Edition first: a planner writes one edition's rows a chunk of readers (a range of
        # subscriber ids) at a time, so each entry goes near the index's right end (the
        # edition's ids are the newest), not next to that reader's earlier rows all over an
        # index as big as the ledger (a page split and a full-page image in the WAL per few
        # readers, growing with every edition). It also serves the edition's own queries (no
        # index on the edition alone). A reader's rows are found edition by edition
        # (:mod:`digest.deliver.ledger.reader_rows`).
        UniqueConstraint("edition_id", "subscriber_id"),
        # Not (edition, status): a delivery's status changes once or twice, and with no index
        # on it (and room left in each page) that change is a HOT update in PostgreSQL, which
        # writes no index entry; a million of them per edition.
        Index("ix_deliveries_batch_id", "batch_id"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The edition, the batch and the subscriber are not foreign keys, on purpose: a million
    # rows are written per edition, and each foreign key is a trigger per row that looks up
    # (and share-locks) the row it points to, a quarter of what writing a delivery cost in
    # PostgreSQL (the subscriber's: 40-55% of the INSERT's time). The edition and the batch
    # are written by planning in the transaction that creates the batch (with the edition's
    # row locked); nothing deletes an edition, and a batch is deleted only when it got no
    # row (``write_batches``). Every INSERT takes its readers from ``subscribers`` (a join),
    # and whoever deletes a subscriber deletes their rows, under a lock that keeps the two
    # apart (``digest.deliver.ledger.erasure``).
    edition_id: Mapped[int] = mapped_column(BigId)
    subscriber_id: Mapped[int] = mapped_column(BigId)
    batch_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    skip_reason: Mapped[str | None] = mapped_column(String(40))
    #: The zone the reader's dates were filled in (their zone when planned), so the
    #: archive shows what the email showed even after they move.
    timezone: Mapped[str | None] = mapped_column(String(64))
    #: The address it goes to (queued rows), written when planned: sending reads a batch's
    #: recipients from its own rows, not from a random subscriber page per reader. Whether
    #: they are still subscribed is checked at send time (``ix_subscribers_inactive``).
    email: Mapped[str | None] = mapped_column(String(320))
    error: Mapped[str | None] = mapped_column(Text)
    #: Failed because the provider refused this address itself (SendGrid 400 naming its
    #: personalization, SMTP 5xx): ``--retry-failed`` resends it only once the subscriber's
    #: address has changed. Other failures (temporary refusals, a batch that never went
    #: out, a failed write) are retryable.
    refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: The recipient's own message id, when the provider gives one per recipient; else
    #: the batch's (``Batch.provider_message_id``) is theirs. Not copied onto each row:
    #: settling a sent batch then only adds ``sent_at``, so the row's new version fits in
    #: its page (a HOT update) for every recipient, not three in four.
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    #: For an ambiguous delivery settled by the provider's own event: which one
    #: (``sendgrid:<event>:<event id>``), the evidence for its status.
    settled_by: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
