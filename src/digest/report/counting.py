"""Provider events added to the edition counters, in the transaction that records them.

Called once per webhook post with the events that post recorded for the first time
(:func:`digest.web.sendgrid_events.record_events` drops repeats by event id first), so
each event is counted exactly once: a post that fails is rolled back, counters and all,
and SendGrid's retry counts it then. The work is a handful of statements per post, not
per event: readers already counted are found by one ``INSERT .. ON CONFLICT DO NOTHING
.. RETURNING`` on ``reader_figures``, and the counters move by one upsert of the summed
changes, taken in a fixed order so that two posts at once never deadlock.

An event counts on the UTC day of its own ``timestamp``; a reader figure (see
:mod:`.figures`) counts on the day of the first of that reader's events to arrive.
Events without our ``edition_id`` and ``subscriber_id`` (mail not sent by an edition)
are stored by the webhook but not counted.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from datetime import date, datetime, timezone
from typing import Any, Iterable

from sqlalchemy import Connection, Date, Integer, String, bindparam, literal, null, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..deliver.ledger.reader_rows import in_any_edition
from ..utm import without_utm
from ..models import Delivery, DeliveryStatus, EditionCounter, ReaderFigure, Topic, subscriber_topics
from .figures import CLICKED, CLICKS, SENT, TOPIC_FIGURES, figure_of

#: Rows per INSERT: well under SQLite's limit of bound values per statement.
CHUNK = 500

_counters = EditionCounter.__table__
_KEY = ["edition_id", "day", "figure", "item", "shard"]  # a counter's row (a counter sums its shards)
_readers = ReaderFigure.__table__

Mark = tuple[int, int, str]  # (edition, subscriber, figure)
Key = tuple[int, date, str, str]  # (edition, day, figure, item)


def topic_item(slug: str) -> str:
    return f"topic:{slug}"


def url_item(url: str) -> str:
    return "url:" + hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def count_events(session: Session, events: Iterable[dict[str, Any]]) -> int:
    """Add ``events`` (each new, in arrival order) to the counters; returns how many
    events counted in some figure."""
    marks: dict[Mark, date] = {}
    clicks: Counter[Key] = Counter()
    urls: dict[str, str] = {}
    counted = 0
    for event in events:
        edition, reader, figure = custom_arg_id(event, "edition_id"), custom_arg_id(event, "subscriber_id"), figure_of(event)
        if edition is None or reader is None or figure is None:
            continue
        counted += 1
        day = _day(event)
        marks.setdefault((edition, reader, figure), day)
        if figure == CLICKED:
            clicks[(edition, day, CLICKS, "")] += 1
            url = event.get("url")
            if isinstance(url, str) and url:
                url = without_utm(url)  # the item's own link, whatever [tracking] utm added
                item = url_item(url)
                urls[item] = url
                clicks[(edition, day, CLICKS, item)] += 1
    changes = clicks + _reader_changes(session, _first_marks(session, marks), marks)
    _add(session, changes, urls)
    return counted


#: Rows the ``sent`` counter of an edition's day is spread over (``edition_counters.shard``).
SENT_SHARDS = 16


def sent_shard() -> int:
    """This process's and thread's row of a ``sent`` counter: settles on other threads
    (and in other send processes) mostly add to other rows, so a settle seldom waits for
    another's commit to release the row it updates."""
    return hash((os.getpid(), threading.get_ident())) % SENT_SHARDS


def count_sent(session, edition_id: int, readers: int, day: date | None = None) -> None:
    """Add ``readers`` the ledger has just marked sent to the edition's ``sent`` counter
    (on this thread's row of it: :func:`sent_shard`), in one statement of the caller's
    transaction (the settle of a batch, or of an ambiguous reader), so a report never
    counts the delivery table."""
    if readers:
        session.execute(_one_sent_statement(session), {"c_edition": edition_id, "c_count": readers,
                                                       "c_day": day or datetime.now(timezone.utc).date(),
                                                       "c_shard": sent_shard()})


_ONE_SENT: dict[str, Any] = {}  # dialect name -> the upsert of count_sent, built once


def _one_sent_statement(session: Session | Connection):
    """:func:`_add`'s upsert for the one ``sent`` counter of a settled batch, built and
    compiled once per process: it runs once per batch (thousands per edition)."""
    dialect = _dialect_name(session)
    statement = _ONE_SENT.get(dialect)
    if statement is None:
        statement = _insert_for(session)(_counters).values(edition_id=bindparam("c_edition"), day=bindparam("c_day"), figure=SENT,
                                             item="", url=None, count=bindparam("c_count"), shard=bindparam("c_shard"))
        statement = _ONE_SENT[dialect] = statement.on_conflict_do_update(
            index_elements=_KEY,
            set_={"count": _counters.c.count + statement.excluded.count},
        )
    return statement


def sent_counter_upsert(edition_id, readers):
    """:func:`count_sent`'s upsert as a PostgreSQL statement of its own to put in a WITH
    (the settle of a batch everyone got: one statement, not two): adds ``readers`` (a SQL
    expression) to the ``sent`` counter of ``edition_id`` (a SQL expression), nothing when
    it is 0; bound by :func:`sent_params`."""
    rows = select(edition_id, bindparam("c_day", type_=Date), literal(SENT, String), literal("", String),
                  null(), readers, bindparam("c_shard", type_=Integer)).where(readers > 0)
    statement = postgresql.insert(_counters).from_select(
        ["edition_id", "day", "figure", "item", "url", "count", "shard"], rows)
    return statement.on_conflict_do_update(index_elements=_KEY,
                                           set_={"count": _counters.c.count + statement.excluded.count})


def sent_params(day: date) -> dict[str, Any]:
    """:func:`sent_counter_upsert`'s parameters for readers sent on ``day``, on this thread's row."""
    return {"c_day": day, "c_shard": sent_shard()}


def count_own_unsubscribe(session: Session, subscriber_id: int, *, now: datetime | None = None) -> int | None:
    """An unsubscribe through digest's own one-click page (reached from the email or the
    preferences page), whose token names no edition: counted for the edition of the
    reader's latest sent delivery at this moment, once per reader like SendGrid's (a
    reader already counted there, by either way, is not counted again). Returns that
    edition, or None when the reader was never sent one."""
    edition_id = session.scalar(
        select(Delivery.edition_id).where(in_any_edition(session), Delivery.subscriber_id == subscriber_id,
                                          Delivery.status == DeliveryStatus.SENT)
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc()).limit(1))
    if edition_id is not None:
        stamp = (now or datetime.now(timezone.utc)).timestamp()
        count_events(session, [{"event": "unsubscribe", "edition_id": edition_id, "subscriber_id": subscriber_id,
                                "timestamp": stamp}])
    return edition_id


def _reader_changes(session: Session, first: list[Mark], days: dict[Mark, date]) -> Counter[Key]:
    """One for each reader counted for the first time, in the edition's figure and in the
    figure of each topic the reader follows (for the topics' rates)."""
    changes: Counter[Key] = Counter()
    for mark in first:
        changes[(mark[0], days[mark], mark[2], "")] += 1
    wanted = sorted({mark[1] for mark in first if mark[2] in TOPIC_FIGURES})
    topics: dict[int, list[str]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(subscriber_topics.c.subscriber_id, Topic.slug)
            .join(Topic, Topic.id == subscriber_topics.c.topic_id)
            .where(subscriber_topics.c.subscriber_id.in_(wanted[start:start + CHUNK]))
        )
        for subscriber_id, slug in rows:
            topics.setdefault(subscriber_id, []).append(slug)
    for mark in first:
        if mark[2] in TOPIC_FIGURES:
            for slug in topics.get(mark[1], ()):
                changes[(mark[0], days[mark], mark[2], topic_item(slug))] += 1
    return changes


def _first_marks(session: Session, marks: dict[Mark, date]) -> list[Mark]:
    """Record the marks; those not recorded before are returned."""
    first: list[Mark] = []
    ordered = sorted(marks)
    insert = _insert_for(session)
    for start in range(0, len(ordered), CHUNK):
        rows = [{"edition_id": e, "subscriber_id": s, "figure": f} for e, s, f in ordered[start:start + CHUNK]]
        statement = (insert(_readers).values(rows).on_conflict_do_nothing()
                     .returning(_readers.c.edition_id, _readers.c.subscriber_id, _readers.c.figure))
        first.extend((e, s, f) for e, s, f in session.execute(statement))
    return first


def _add(session: Session, changes: Counter[Key], urls: dict[str, str]) -> None:
    keys = sorted(key for key, n in changes.items() if n)
    insert = _insert_for(session)
    for start in range(0, len(keys), CHUNK):
        rows = [{"edition_id": e, "day": d, "figure": f, "item": i, "url": urls.get(i), "count": changes[(e, d, f, i)],
                 "shard": 0} for e, d, f, i in keys[start:start + CHUNK]]
        statement = insert(_counters).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=_KEY,
            set_={"count": _counters.c.count + statement.excluded.count},
        )
        session.execute(statement)


def _dialect_name(session: Session | Connection) -> str:
    return (session.dialect if isinstance(session, Connection) else session.get_bind().dialect).name


def _insert_for(session: Session | Connection):
    return postgresql.insert if _dialect_name(session) == "postgresql" else sqlite.insert


def custom_arg_id(event: dict[str, Any], name: str) -> int | None:
    """Our custom arg ``name`` (an id we put in the request) as a number (SendGrid puts custom args at the top level of
    an event; some relays nest them under ``custom_args``)."""
    value = event.get(name)
    if value is None and isinstance(event.get("custom_args"), dict):
        value = event["custom_args"].get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _day(event: dict[str, Any]) -> date:
    stamp = event.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and 0 < stamp < 1e11:
        return datetime.fromtimestamp(stamp, timezone.utc).date()
    return datetime.now(timezone.utc).date()
