"""A reader who left after their batch was planned is not sent, and on PostgreSQL a batch's
read asks only about readers who left in a transaction its plan may not have seen
(``digest.deliver.ledger.departures``). The case every departure must cover is in
``test_ledger.test_unsubscribed_after_planning_is_not_sent`` (both databases)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from digest.deliver.edition import send_edition
from digest.deliver.ledger import get_or_create_edition
from digest.deliver.plan import plan_edition
from digest.deliver.recipients import _RECIPIENTS
from digest.deliver.run import EditionRun
from digest.models import Batch, Delivery, DeliveryStatus, Subscriber, SubscriberStatus

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, RecordingProvider, add_subscribers, postgresql_only

_XID = text("SELECT pg_current_xact_id()::text::bigint")


@pytest.fixture
def pg_runtime(runtime):
    return postgresql_only(runtime, "PostgreSQL only: SQLite records no departure transactions (it probes every row) and takes one writer at a time")


def _plan(runtime, **kw):
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    return plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(),
                        max_recipients=10, **kw)


def _left_xid(runtime, subscriber_id):
    with runtime.session() as session:
        return session.scalar(select(Subscriber.left_xid).where(Subscriber.id == subscriber_id))


def test_a_departure_records_the_transaction_that_made_it(pg_runtime):
    runtime = pg_runtime
    stays, leaves, bounces = add_subscribers(runtime, 3)
    assert [_left_xid(runtime, i) for i in (stays, leaves, bounces)] == [None, None, None]
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE subscribers SET status = 'unsubscribed' WHERE id = :id"), {"id": leaves})
        conn.execute(text("UPDATE subscribers SET send_hour = 9 WHERE id = :id"), {"id": stays})  # not a departure
        left_in = conn.scalar(_XID)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE subscribers SET status = 'bounced' WHERE id = :id"), {"id": bounces})
        bounced_in = conn.scalar(_XID)
    assert left_in < bounced_in
    assert [_left_xid(runtime, i) for i in (stays, leaves, bounces)] == [None, left_in, bounced_in]
    with runtime.engine.begin() as conn:  # the same status again is no new departure; back to active keeps it
        conn.execute(text("UPDATE subscribers SET status = 'unsubscribed' WHERE id = :id"), {"id": leaves})
        conn.execute(text("UPDATE subscribers SET status = 'active' WHERE id = :id"), {"id": bounces})
    assert [_left_xid(runtime, i) for i in (leaves, bounces)] == [left_in, bounced_in]
    with runtime.engine.begin() as conn:  # written already gone (an import of unsubscribed readers)
        conn.execute(text("INSERT INTO subscribers (email, status, timezone, send_hour, frequency, created_at, "
                          "updated_at) VALUES ('gone@example.com', 'unsubscribed', 'UTC', 7, 'daily', now(), now())"))
        imported_in = conn.scalar(_XID)
    with runtime.session() as session:
        assert session.scalar(select(Subscriber.left_xid).where(Subscriber.email == "gone@example.com")) == imported_in


def test_a_departure_still_running_while_the_plan_reads_its_reader_is_seen_at_the_send(pg_runtime):
    """The departure's UPDATE runs before planning starts and commits after the plan read the
    reader as active: a check by the time a reader left would miss it; by transaction it
    cannot (the plan's horizon is at most the departure's transaction)."""
    runtime = pg_runtime
    ids = add_subscribers(runtime, 3)
    with runtime.engine.connect() as departure:
        departure.execute(text("UPDATE subscribers SET status = 'unsubscribed' WHERE id = :id"), {"id": ids[1]})
        departing_xid = departure.scalar(_XID)
        plan = _plan(runtime)  # reads the reader as active: the UPDATE is not committed
        departure.commit()
    with runtime.session() as session:
        queued = session.scalars(select(Delivery.subscriber_id).where(Delivery.status == DeliveryStatus.QUEUED)).all()
        [plan_xmin] = session.scalars(select(Batch.plan_xmin)).all()
    assert plan.queued == 3 and sorted(queued) == ids  # the race happened: the leaving reader was planned
    assert 0 < plan_xmin <= departing_xid == _left_xid(runtime, ids[1])

    provider = RecordingProvider()
    summary = send_edition(runtime, provider, EDITION, now=NOW, selector=FakeSelector(), renderer=CountingRenderer())
    assert (summary.sent, summary.skipped["suppressed"]) == (2, 1)
    assert sorted(provider.emails) == ["reader0@example.com", "reader2@example.com"]
    with runtime.session() as session:
        row = session.execute(select(Delivery.status, Delivery.skip_reason)
                              .where(Delivery.subscriber_id == ids[1])).one()
    assert tuple(row) == (DeliveryStatus.SKIPPED, "suppressed")


def _subplan(plan: dict) -> dict:
    """The one subplan node of a JSON plan."""
    found = []

    def walk(node):
        if node.get("Parent Relationship") == "SubPlan":
            found.append(node)
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan)
    [node] = found
    return node


def test_a_batch_asks_once_about_the_readers_who_left_since_its_plan_only(pg_runtime):
    """Four readers left before the plan (never planned), one after: the read's subquery
    runs once, hashed, and finds that one; the other rows are not probed one by one."""
    runtime = pg_runtime
    ids = add_subscribers(runtime, 6)
    earlier = add_subscribers(runtime, 4, prefix="early")
    with runtime.session() as session:
        for subscriber_id in earlier:
            session.get(Subscriber, subscriber_id).status = SubscriberStatus.UNSUBSCRIBED
    _plan(runtime)
    with runtime.session() as session:
        session.get(Subscriber, ids[2]).status = SubscriberStatus.COMPLAINED
    with runtime.engine.connect() as conn:
        batch_id = conn.scalar(select(Batch.id))
        compiled = _RECIPIENTS["postgresql"].compile(dialect=conn.dialect)
        params = {**compiled.params, "b_id": batch_id}
        [[explained]] = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON, VERBOSE, COSTS OFF) " + str(compiled), params).all()
        rows = conn.execute(_RECIPIENTS["postgresql"], {"b_id": batch_id}).all()
    with runtime.session() as session:
        horizon = session.scalar(select(Batch.plan_xmin).where(Batch.id == batch_id))
        early = session.scalars(select(Subscriber.left_xid).where(Subscriber.id.in_(earlier))).all()
    # The one who left after the plan; and an earlier one only if its transaction is not
    # older than every transaction running when the plan began: one left open in another
    # database of the cluster (tests run in parallel) holds the horizon back, and then
    # those count as well (checked once more at the send: never fewer). Without one, 1.
    might_be_unseen = 1 + sum(xid >= horizon for xid in early)
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    subplan = _subplan(plan)
    assert (subplan["Actual Loops"], subplan["Actual Rows"]) == (1, might_be_unseen)
    assert any("hashed SubPlan" in output for output in plan["Output"])
    assert [(row[1], row[4]) for row in rows] == [(i, i == ids[2]) for i in ids]
