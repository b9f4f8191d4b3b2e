"""The readers a plan considers: active subscribers without a row in the edition, read in
chunks of plain tuples (never all in memory, never the ORM's per-row cost), with their
topics; and those it does not (already in the ledger, suppressed, or with a delivery in
flight in another edition, who get a ``skipped`` row here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, Protocol, runtime_checkable

from sqlalchemy import String, bindparam, cast, exists, func, literal_column, select
from sqlalchemy.orm import Session

from ...content import Selection
from ...db import fetch_tuples
from ...models import Delivery, DeliveryStatus, Subscriber, SubscriberStatus, Topic, subscriber_topics, utcnow
from ...runtime import Runtime
from ...subscribers.cadence import window_start_column
from ..ledger.in_flight import IN_FLIGHT, in_flight_batches, readers_in
from .result import PlanSummary, SkipReason
from .rows import insert_deliveries

log = logging.getLogger(__name__)


class SubscriberSelector(Protocol):
    def for_subscriber(self, subscriber: "PlannedSubscriber", edition_date) -> Selection: ...


@runtime_checkable
class ReaderSelector(Protocol):
    """A selector whose answer depends only on a reader's topics and last digest (as
    :class:`digest.select.Selector`'s does): planning then asks once per distinct pair in
    a chunk, not once per reader."""

    def for_reader(self, topic_slugs: tuple[str, ...], last_digest_at: datetime | None, edition_date) -> Selection: ...



@dataclass(frozen=True, slots=True)
class PlannedSubscriber:
    """What selection reads of a subscriber, loaded without the ORM's per-object cost
    (a million-subscriber edition loads a million of these). Duck-types the
    :class:`~digest.models.Subscriber` attributes the selector uses."""

    id: int
    email: str
    timezone: str
    send_hour: int
    last_digest_at: datetime | None
    topic_slugs: tuple[str, ...]


#: A subscriber as planning reads it: the fields of :class:`PlannedSubscriber`, in order.
SubscriberRow = tuple[int, str, str, int, "datetime | None", tuple[str, ...]]

_subscribers = Subscriber.__table__
_deliveries = Delivery.__table__
#: Table columns, not ORM attributes: the rows come back as plain tuples, without the
#: ORM's per-row loading (a million-subscriber edition reads a million of them).
#: The window start is the last digest, or the regular send before the first one after a pause.
_SUBSCRIBER_COLUMNS = (_subscribers.c.id, _subscribers.c.email, _subscribers.c.timezone, _subscribers.c.send_hour,
                       window_start_column())


#: A subscriber's topic ids as one string (``"3,7"``, in no set order), one row per
#: subscriber: the chunk's readers are matched to their topics with one dictionary, and
#: each distinct string is turned into sorted slugs once. Read as one row per (subscriber,
#: topic) and grouped here, that grouping was 2.3-3 us of Python per reader; PostgreSQL
#: spends 0.4 us more per reader grouping them (5,000-reader chunks, measured apart).
#: (The separator is a literal in the SQL: as a bound value it would be rendered inline
#: at compile time, which then wants every other parameter's value.)
_TOPIC_KEY = func.aggregate_strings(cast(subscriber_topics.c.topic_id, String), literal_column("','"))
_TOPICS_IN_RANGE = (
    select(subscriber_topics.c.subscriber_id, _TOPIC_KEY)
    .where(subscriber_topics.c.subscriber_id.between(bindparam("first_id"), bindparam("last_id")))
    .group_by(subscriber_topics.c.subscriber_id)
)


def _load_chunk(session: Session, query, slug_of: dict[int, str], *, dense: bool) -> list[SubscriberRow]:
    """A chunk of subscribers (id order) with their topic slugs. For a ``dense`` chunk (the
    next N subscribers by id) the topics are read by id range, one index range scan,
    rather than with an IN list of thousands of ids; rows of subscribers outside the chunk
    (inactive, already planned) are ignored. A chunk of chosen ids may be spread over the
    whole table: its topics are read by id."""
    conn = session.connection()
    rows = fetch_tuples(conn, query)
    if not rows:
        return []
    if dense:
        topic_rows = fetch_tuples(conn, _TOPICS_IN_RANGE, {"first_id": rows[0][0], "last_id": rows[-1][0]}, cached=True)
    else:
        topic_rows = fetch_tuples(conn, select(subscriber_topics.c.subscriber_id, _TOPIC_KEY)
                                  .where(subscriber_topics.c.subscriber_id.in_([r[0] for r in rows]))
                                  .group_by(subscriber_topics.c.subscriber_id))
    topic_key = dict(topic_rows).get
    # A list has a few dozen distinct topic sets: each is turned into sorted slugs once.
    slug_sets: dict[str, tuple[str, ...]] = {}
    chunk = []
    append = chunk.append
    for subscriber_id, email, zone, send_hour, last_digest_at in rows:
        key = topic_key(subscriber_id, "")
        slugs = slug_sets.get(key)
        if slugs is None:
            slugs = slug_sets[key] = tuple(sorted(slug_of[int(t)] for t in key.split(",") if t))
        if last_digest_at is not None and last_digest_at.tzinfo is not timezone.utc:
            # As the ORM's AwareDateTime gives it (PostgreSQL sessions are in UTC: digest.db).
            last_digest_at = last_digest_at.astimezone(timezone.utc)
        append((subscriber_id, email, zone, send_hour, last_digest_at, slugs))
    return chunk


def _no_row(edition_id: int | None, *, after: int | None = None):
    """No delivery row in this edition. ``after`` repeats the chunk's lower bound inside
    the subquery: redundant for the result, but it lets PostgreSQL start its scan of the
    (edition, subscriber) key at the chunk instead of at the first subscriber, which
    made paging through a million subscribers quadratic (0.4 s per chunk by the end)."""
    condition = [_deliveries.c.subscriber_id == _subscribers.c.id, _deliveries.c.edition_id == edition_id]
    if after is not None:
        condition.append(_deliveries.c.subscriber_id > after)
    return ~exists().where(*condition)


#: Readers in a plan's first chunk at most: its full batches are written (and can be sent)
#: once it is selected, so it stays small; the later ones are ``chunk_size``.
FIRST_CHUNK = 5000


def _chunk_sizes(chunk_size: int) -> Iterator[int]:
    yield min(chunk_size, FIRST_CHUNK)
    while True:
        yield chunk_size


def _not_in_flight(session: Session, query, edition_id: int | None):
    """``query`` leaving out readers in flight in another edition, asked now: their batches
    first (none on most days: then nothing to leave out), then those batches' rows
    (:func:`~digest.deliver.ledger.in_flight.readers_in`)."""
    batches = in_flight_batches(session, edition_id)
    return query.where(_subscribers.c.id.not_in(readers_in(batches))) if batches else query


def _active(due):
    return (select(*_SUBSCRIBER_COLUMNS)
            .where(_subscribers.c.status == SubscriberStatus.ACTIVE, due)
            .order_by(_subscribers.c.id))


def next_chunk(session: Session, edition_id: int | None, due, *, after: int, size: int):
    """The statement reading the next ``size`` active subscribers due this edition after id
    ``after``, without a row in it and not in flight in another one."""
    query = _active(due).where(_subscribers.c.id > after, _no_row(edition_id, after=after)).limit(size)
    return _not_in_flight(session, query, edition_id)


def active_unplanned(runtime: Runtime, edition_id: int | None, subscriber_ids, chunk_size: int, *,
                     due) -> Iterator[list[SubscriberRow]]:
    """Active subscribers due this edition (``due``: their frequency and pause,
    :func:`digest.subscribers.cadence.due_on`) without a delivery row and not in flight in
    another edition as the chunk is read, in id order, one chunk (and session) at a time:
    the first of at most :data:`FIRST_CHUNK`, the others of ``chunk_size``."""
    with runtime.sessions() as session:  # topic id -> slug, read once per plan
        slug_of = dict(session.execute(select(Topic.__table__.c.id, Topic.__table__.c.slug)).all())
    sizes = _chunk_sizes(chunk_size)
    if subscriber_ids is not None:
        ids = sorted(set(subscriber_ids))
        base = _active(due).where(_no_row(edition_id))
        start = 0
        while start < len(ids):
            wanted = ids[start:start + next(sizes)]
            start += len(wanted)
            with runtime.sessions() as session:
                query = _not_in_flight(session, base.where(_subscribers.c.id.in_(wanted)), edition_id)
                chunk = _load_chunk(session, query, slug_of, dense=False)
            if chunk:
                yield chunk
        return
    last_id = 0
    while True:
        with runtime.sessions() as session:
            query = next_chunk(session, edition_id, due, after=last_id, size=next(sizes))
            chunk = _load_chunk(session, query, slug_of, dense=True)
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1][0]


def already_in(edition_id: int, subscriber_ids=None):
    """How many of these readers (None: any) have a row in the edition, counted on its key:
    one row per reader (unique), and none for a reader no longer in ``subscribers`` (an
    erasure deletes them). Asked as subscribers with a row, PostgreSQL scanned every
    delivery row for a worker's hour of 38,000 readers, in parallel: 0.4-0.5 s against
    0.1 s, before planning starts."""
    mine = [Delivery.subscriber_id.in_(subscriber_ids)] if subscriber_ids is not None else []
    return select(func.count()).select_from(Delivery).where(Delivery.edition_id == edition_id, *mine)


def count_outside(session: Session, edition_id: int | None, subscriber_ids, summary: PlanSummary) -> None:
    """Subscribers this plan will not consider: suppressed ones, and those already in the ledger."""
    has_row = exists().where(Delivery.subscriber_id == Subscriber.id, Delivery.edition_id == edition_id)
    wanted = [Subscriber.id.in_(subscriber_ids)] if subscriber_ids is not None else []
    suppressed = session.scalar(
        select(func.count()).select_from(Subscriber).where(Subscriber.status.in_(SubscriberStatus.SUPPRESSED), ~has_row, *wanted)
    )
    already = session.scalar(already_in(edition_id, subscriber_ids)) if edition_id is not None else 0
    summary.skipped[SkipReason.SUPPRESSED] += suppressed or 0
    summary.skipped[SkipReason.ALREADY_SENT] += already or 0


def skip_in_flight(session: Session, edition_id: int | None, subscriber_ids, summary: PlanSummary, *,
                   dry_run: bool, due) -> None:
    """Active readers not yet in this edition whose delivery in another one is in flight:
    a ``skipped`` (``in-flight``) row each (a dry run only counts them). The chunks read
    after this leave them out (:func:`active_unplanned`), whether rows were written or not."""
    batches = in_flight_batches(session, edition_id)
    if not batches:  # most days
        session.rollback()
        return
    query = (select(_subscribers.c.id)
             .where(_subscribers.c.status == SubscriberStatus.ACTIVE, due, _no_row(edition_id),
                    _subscribers.c.id.in_(readers_in(batches)))
             .order_by(_subscribers.c.id))
    if subscriber_ids is not None:
        # Given readers (the worker's tick: a zone's hour, tens of thousands) are first met
        # with the readers in flight, here: in one statement with both, PostgreSQL probes
        # the list once per delivery in flight (16-24 s at a million readers, when the
        # tick plans one day while the other's batches are pending).
        wanted = set(session.scalars(readers_in(batches))).intersection(subscriber_ids)
        if not wanted:
            session.rollback()
            return
        query = query.where(_subscribers.c.id.in_(sorted(wanted)))
    ids = list(session.execute(query).scalars())
    session.rollback()
    if not ids:
        return
    if dry_run:
        summary.skipped[SkipReason.IN_FLIGHT] += len(ids)
        return
    with session.begin():
        inserted = sum(insert_deliveries(session, edition_id, DeliveryStatus.SKIPPED, SkipReason.IN_FLIGHT,
                                          utcnow(), ids).values())
    summary.skipped[SkipReason.IN_FLIGHT] += inserted
    summary.skipped[SkipReason.ALREADY_SENT] += len(ids) - inserted
    log.info("%d reader(s) with a delivery in flight in another edition skipped (%s)", inserted, IN_FLIGHT)
