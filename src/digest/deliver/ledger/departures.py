"""Readers who left (unsubscribed, bounced, complained) after their batch was planned: a
claimed batch leaves them out (:func:`digest.deliver.recipients.queued_recipients`).

On PostgreSQL a departure records the transaction that made it (``Subscriber.left_xid``,
written by the trigger ``subscribers_left`` whoever changes the row), and a plan records
the oldest transaction still running when it began reading its readers
(``Batch.plan_xmin``, :func:`plan_horizon`). A departure the plan did not see was
committed after the plan's first snapshot, so its transaction was still running then, or
began later: its id is at least that horizon. A batch's read therefore asks only about
readers who left in such transactions, a handful PostgreSQL hashes once per statement;
it probed the index of every reader who ever left once per row (where a fifth of a
million readers had left, the read's CPU halves: benchmarks/RESULTS.md, "Readers who left
since planning"). SQLite (one writer at a time, small lists) keeps the probe.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, bindparam, func, select, text
from sqlalchemy.orm import Session

from ...models import Batch, Subscriber, SubscriberStatus

_subscribers = Subscriber.__table__
_batches = Batch.__table__
_HORIZON = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


def plan_horizon(session: Session) -> int | None:
    """The oldest transaction still running now, on PostgreSQL (None on SQLite): taken
    before a plan reads its readers, it is the ``plan_xmin`` of every batch it writes."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.scalar(_HORIZON)


def left_since_planning(subscriber_id: ColumnElement, dialect: str) -> ColumnElement[bool]:
    """Whether the reader ``subscriber_id`` left since the batch ``:b_id`` was planned.

    PostgreSQL: ``IN`` the readers who left in a transaction at least the batch's
    ``plan_xmin`` (0 for a batch planned before revision left23_departures: every reader
    who left, as readers who left before it have ``left_xid`` 0), one uncorrelated
    subquery PostgreSQL runs once and hashes. SQLite: a probe of ``ix_subscribers_inactive``
    per row."""
    inactive = _subscribers.c.status != SubscriberStatus.ACTIVE
    if dialect == "postgresql":
        horizon = (select(func.coalesce(_batches.c.plan_xmin, 0))
                   .where(_batches.c.id == bindparam("b_id")).scalar_subquery())
        return subscriber_id.in_(select(_subscribers.c.id).where(inactive, _subscribers.c.left_xid >= horizon))
    return select(_subscribers.c.id).where(_subscribers.c.id == subscriber_id, inactive).exists()
