"""Readers: subscribers, their consent records, forgotten addresses and the rate-limit windows of the public pages.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import AwareDateTime, Base, BigId, utcnow
from .content import Topic, subscriber_topics


class SubscriberStatus:
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    #: Signed up on the web, the address not yet confirmed by its email link: never sent a digest.
    PENDING = "pending"
    ALL = (ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED, PENDING)
    #: No longer mailed: a send summary's ``suppressed``. Not ``pending``: not a reader yet.
    SUPPRESSED = (UNSUBSCRIBED, BOUNCED, COMPLAINED)


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
        # ... and on PostgreSQL, those who left in a transaction a plan may not have seen
        # (``left_xid`` at least its ``Batch.plan_xmin``): a handful, whatever the list's age.
        Index("ix_subscribers_left", "left_xid", postgresql_where=_NOT_ACTIVE, sqlite_where=_NOT_ACTIVE),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised
    status: Mapped[str] = mapped_column(String(20), default=SubscriberStatus.ACTIVE, index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(Integer, default=7)
    # How often (:mod:`digest.subscribers.cadence`): ``daily``, or ``weekly`` on ``weekday``
    # (``mon`` .. ``sun``, the reader's local weekday); and no digest on local dates before
    # ``paused_until``. ``resume_window_start``: where the first digest after a pause starts
    # its window (one regular period before it), when that is later than the last digest.
    frequency: Mapped[str] = mapped_column(String(10), default="daily", server_default="daily")
    weekday: Mapped[str | None] = mapped_column(String(3))
    paused_until: Mapped[date | None] = mapped_column(Date)
    resume_window_start: Mapped[datetime | None] = mapped_column(AwareDateTime())
    consent_source: Mapped[str | None] = mapped_column(String(300))
    consented_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    # When the last digest was sent: selection takes what was published since then. Copied
    # from the ledger once per edition (:func:`digest.deliver.ledger.record_last_digests`).
    last_digest_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    status_changed_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    #: PostgreSQL: the id of the transaction that made this reader not active (0: before
    #: revision left23_departures), set by the trigger ``subscribers_left`` whoever writes
    #: the row; a claimed batch asks only about readers who left in a transaction its plan
    #: may not have seen (:mod:`digest.deliver.recipients`). Empty on SQLite.
    left_xid: Mapped[int | None] = mapped_column(BigInteger)
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
    PREFERENCES = "preferences"  # topics, zone, hour, frequency or pause changed on the preferences page
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


class RateLimitHit(Base):
    """One fixed-window counter of the web's signup limits when there is no Redis
    (:mod:`digest.web.shared_limits`), so every web dyno counts against the same budget.
    ``key`` is a keyed hash of the limit and who it counts (an address or a client IP is
    never stored); ``window_end`` is in Unix seconds; expired rows are deleted as new ones come."""

    __tablename__ = "rate_limit_hits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_end: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
