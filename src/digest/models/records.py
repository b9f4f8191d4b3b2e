"""What happened after sending, and the locks and guards around it: provider events, leases,
per-edition counters, per-reader figures, guard trips, and the log of schedule changes the
delivery tick watches.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, JSON, SmallInteger, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import AwareDateTime, Base, BigId, utcnow


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


#: An edition's own figures (not a topic's, nor a clicked link's): the predicate of
#: ``ix_edition_counters_own_figure_day``. A query must spell it with the literal ``''`` (as
#: :data:`digest.report.guards.OWN_FIGURE` does), not a bound value, for the planner to
#: prove it: PostgreSQL in a prepared statement's generic plan, and SQLite, cannot otherwise.
OWN_FIGURES = text("item = ''")


class EditionCounter(Base):
    """One figure of an edition on one day (delivered, opened, clicks of one item, ...),
    added to as provider events arrive (:mod:`digest.report.counting`), so a report
    reads a few rows per edition and never the events themselves.

    ``item`` tells apart the counters of one figure: a topic's slug, or the SHA-256 of a
    clicked URL (the URL itself is kept in ``url``); empty for the edition's own figure.
    A counter is the sum of its rows over ``shard``: the ``sent`` figure is added to by
    each sending thread on its own row (no lock shared by every settle), the webhook's
    figures on shard 0. The edition is not a foreign key, as for deliveries: counting must
    never refuse a post.

    The guards, before every batch, sum one figure of every edition over the last days:
    ``ix_edition_counters_own_figure_day`` finds those rows (a few dozen) without scanning
    the table, which grows by about 1,700 rows an edition (its topics' and links' rows, left
    out of the partial index). Sums for one edition go through the unique key, which leads
    with the edition. ``count`` is deliberately not in that index (``INCLUDE``): an UPDATE
    that changes an indexed column is never HOT in PostgreSQL, and every counter's UPDATE
    changes its count.
    """

    __tablename__ = "edition_counters"
    __table_args__ = (
        UniqueConstraint("edition_id", "day", "figure", "item", "shard"),
        Index("ix_edition_counters_own_figure_day", "figure", "day", postgresql_where=OWN_FIGURES,
              sqlite_where=OWN_FIGURES),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(BigId)
    day: Mapped[date] = mapped_column(Date)
    figure: Mapped[str] = mapped_column(String(40))
    item: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    shard: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


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


class ScheduleChange(Base):
    """One statement that may have made someone owed a digest: subscribers added, or their
    zone, send hour, status, signup time or cadence changed; ledger rows deleted. Written only by
    database triggers (migration ``tick23_changes``), read by the delivery tick to know when
    the send windows it found settled must be looked at again (:mod:`digest.schedule.settled`)."""

    __tablename__ = "schedule_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(AwareDateTime(), server_default=text("CURRENT_TIMESTAMP"))
