"""SQLAlchemy 2 models: content (sources, briefings, videos, topics), subscribers,
and the delivery ledger (editions, rendered bodies, batches, deliveries, provider events).

All timestamps are stored as timezone-aware UTC. Status columns are short strings
(not database enums) so adding a state is a code change, not a migration fight.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    JSON,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Autoincrementing BIGINT primary keys on PostgreSQL; plain INTEGER (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AwareDateTime(TypeDecorator):
    """DateTime(timezone=True) that always hands back aware UTC datetimes.

    SQLite stores no offset; without this, values read back would be naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given; use an aware UTC datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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


class SubscriberStatus:
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    #: Signed up on the web, the address not yet confirmed by its email link: never sent a digest.
    PENDING = "pending"
    ALL = (ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED, PENDING)


#: Partial-index conditions, the same on PostgreSQL and SQLite.
_NOT_ACTIVE = text(f"status <> '{SubscriberStatus.ACTIVE}'")


class Subscriber(Base):
    __tablename__ = "subscribers"
    # The worker's tick groups active subscribers by (time zone, send hour). Half of each
    # page left free (PostgreSQL) so that setting last_digest_at after an edition, a
    # column no index covers, is a HOT update for every row of a page (no index touched,
    # no row moved): at 70 % only about 40 % of a page's rows fit their new version, and
    # recording a million readers took 8 s instead of 2.5 s.
    __table_args__ = (
        Index("ix_subscribers_schedule", "status", "timezone", "send_hour"),
        # Those no longer subscribed: sending checks a batch's readers against it (a probe
        # of a small index per reader instead of reading each reader's row).
        Index("ix_subscribers_inactive", "id", postgresql_where=_NOT_ACTIVE, sqlite_where=_NOT_ACTIVE),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised
    status: Mapped[str] = mapped_column(String(20), default=SubscriberStatus.ACTIVE, index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(Integer, default=7)
    consent_source: Mapped[str | None] = mapped_column(String(300))
    consented_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    # When the last digest was sent: selection takes what was published since then. Copied
    # from the ledger once per edition (:func:`digest.deliver.ledger.record_last_digests`).
    last_digest_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    status_changed_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow, onupdate=utcnow)

    topics: Mapped[list[Topic]] = relationship(secondary=subscriber_topics, order_by=Topic.slug)

    @property
    def topic_slugs(self) -> list[str]:
        return [t.slug for t in self.topics]


class ConsentEvent:
    SIGNUP = "signup"  # a signup form or API post (the address not yet confirmed)
    CONFIRM = "confirm"  # a signup's confirmation link posted
    RESUBSCRIBE = "resubscribe"  # a returning reader's confirmation link posted
    IMPORT = "import"  # added or updated by ``digest subscribers import`` (the file's basis of consent)
    PREFERENCES = "preferences"  # topics, zone or hour changed on the preferences page
    UNSUBSCRIBE = "unsubscribe"  # the one-click unsubscribe link
    ALL = (SIGNUP, CONFIRM, RESUBSCRIBE, IMPORT, PREFERENCES, UNSUBSCRIBE)


class ConsentRecord(Base):
    """One consent event of a subscriber, the proof CASL asks for: what, when, from
    where (client address, user agent, the form's page or origin, ``api``) and the exact
    wording the person was shown."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(AwareDateTime())
    client_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(500))
    wording: Mapped[str | None] = mapped_column(Text)


class ForgottenAddress(Base):
    """An address whose reader asked to be forgotten, kept only as a keyed hash
    (:mod:`digest.subscribers.forget`), so an import never brings it back by accident."""

    __tablename__ = "forgotten_addresses"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(AwareDateTime())


class Edition(Base):
    """One day's digest (per send slot). Subscribers get the edition of their local date."""

    __tablename__ = "editions"
    __table_args__ = (UniqueConstraint("date", "slot"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    date: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(32), default="daily")
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)


class RenderedBody(Base):
    """One rendered email body, stored once and shared by every batch that used it.

    Per-recipient values and dates stay as tokens here; sending fills the dates per batch,
    and the archive fills both for the viewer.
    """

    __tablename__ = "rendered_bodies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the content
    subject: Mapped[str] = mapped_column(String(500))
    preheader: Mapped[str] = mapped_column(String(500), default="")
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)


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
    #: Its readers' ``subscribers.last_digest_at`` has been set from it (once sent).
    readers_recorded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: Settled (sent or failed) with some readers still ``ambiguous`` (one recipient's
    #: message cut off): planning finds in-flight readers through the batches, so these
    #: are marked rather than every delivery row searched.
    readers_in_doubt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
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
        UniqueConstraint("subscriber_id", "edition_id"),
        Index("ix_deliveries_batch_id", "batch_id"),
        # Not (edition, status): a delivery's status changes once or twice, and with no index
        # on it (and room left in each page) that change is a HOT update in PostgreSQL, which
        # writes no index entry; a million of them per edition.
        Index("ix_deliveries_edition_id", "edition_id"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The edition and the batch are not foreign keys, on purpose: a million rows are
    # written per edition, and each foreign key is a trigger per row that looks up (and
    # share-locks) the row it points to, a quarter of what writing a delivery cost in
    # PostgreSQL. Both are written by planning in the transaction that creates the batch
    # (with the edition's row locked); nothing deletes an edition, and a batch is deleted
    # only when it got no row (``write_batches``). The subscriber stays a foreign key:
    # erasing a subscriber erases their ledger.
    edition_id: Mapped[int] = mapped_column(BigId)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
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


class ProviderEvent(Base):
    """A provider webhook event, kept by its id so repeats are ignored."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"), Index("ix_provider_events_delivery_id", "delivery_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    payload: Mapped[dict] = mapped_column(JSON)
    #: The delivery it concerns, when the event could be tied to one (our ``custom_args``,
    #: or the provider's message id and the address).
    delivery_id: Mapped[int | None] = mapped_column(BigId)
    received_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)


class Lease(Base):
    """A named lock with an expiry (e.g. which worker runs the scheduler)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(AwareDateTime())


class EditionCounter(Base):
    """One figure of an edition on one day (delivered, opened, clicks of one item, ...),
    added to as provider events arrive (:mod:`digest.report.counting`), so a report
    reads a few rows per edition and never the events themselves.

    ``item`` tells apart the counters of one figure: a topic's slug, or the SHA-256 of a
    clicked URL (the URL itself is kept in ``url``); empty for the edition's own figure.
    The edition is not a foreign key, as for deliveries: counting must never refuse a post.
    """

    __tablename__ = "edition_counters"
    __table_args__ = (UniqueConstraint("edition_id", "day", "figure", "item"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(BigId)
    day: Mapped[date] = mapped_column(Date)
    figure: Mapped[str] = mapped_column(String(40))
    item: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class ReaderFigure(Base):
    """That a reader already counts in one figure of an edition (delivered, opened,
    clicked, ...): what makes those figures count readers, not events, whatever SendGrid
    repeats under new event ids (every open of a reader is an event)."""

    __tablename__ = "reader_figures"
    __table_args__ = (UniqueConstraint("edition_id", "subscriber_id", "figure"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(BigId)
    subscriber_id: Mapped[int] = mapped_column(BigId)
    figure: Mapped[str] = mapped_column(String(40))


class GuardTrip(Base):
    """A guard that stopped sending (:mod:`digest.report.guards`): while one is not
    released, no batch is started. ``edition_id`` for a guard of one edition (hard
    bounces), empty for one over all mail (complaints over 7 days)."""

    __tablename__ = "guard_trips"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    guard: Mapped[str] = mapped_column(String(40))
    edition_id: Mapped[int | None] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(Text)
    tripped_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(AwareDateTime())


class RateLimitHit(Base):
    """One fixed-window counter of the web's signup limits when there is no Redis
    (:mod:`digest.web.shared_limits`), so every web dyno counts against the same budget.
    ``key`` is a keyed hash of the limit and who it counts (an address or a client IP is
    never stored); ``window_end`` is in Unix seconds; expired rows are deleted as new ones come."""

    __tablename__ = "rate_limit_hits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_end: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
