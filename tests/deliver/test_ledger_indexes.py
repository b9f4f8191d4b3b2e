"""The ledger's indexes: ``deliveries`` keyed (edition, subscriber), an index on the batch,
and nothing else written per row (benchmarks/RESULTS.md, "The ledger's indexes"); and
every query about one reader's rows, or one edition's, still finds them through an index
(:mod:`digest.deliver.ledger.reader_rows`), checked in each database's own plan of the
statements the real functions send."""

from __future__ import annotations

import re

from sqlalchemy import event, inspect, select, text, true

from digest.content import RenderedEmail
from digest.deliver.ledger import get_or_create_edition, resettable_readers
from digest.deliver.ledger.erasure import erase_deliveries
from digest.deliver.plan.render_failures import forget_render_failures, render_failed_readers
from digest.deliver.plan.readers import active_unplanned
from digest.deliver.plan.result import PlanSummary
from digest.deliver.plan.rows import store_body, write_batches
from digest.deliver.summary import read_edition_ledger
from digest.models import Batch, DeliveryStatus, Subscriber
from digest.report.counting import count_own_unsubscribe
from digest.subscribers.forget import forget
from digest.subscribers.personal_data import personal_data
from digest.web.archive import _zone_sent_in

from .conftest import EDITION, add_subscribers

BODY = RenderedEmail(subject="Your digest", preheader="", html="<p>x</p>", text="x")


def test_deliveries_are_keyed_by_edition_then_subscriber(runtime):
    described = inspect(runtime.engine)
    unique = [tuple(c["column_names"]) for c in described.get_unique_constraints("deliveries")]
    indexes = {(i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in described.get_indexes("deliveries")
               if not i.get("duplicates_constraint")}
    if runtime.engine.dialect.name == "sqlite":  # SQLite lists a UNIQUE constraint's own index too
        indexes = {i for i in indexes if not i[0].startswith("sqlite_autoindex")}
    assert unique == [("edition_id", "subscriber_id")]
    assert indexes == {("ix_deliveries_batch_id", ("batch_id",), False)}
    assert described.get_pk_constraint("deliveries")["constrained_columns"] == ["id"]


class Statements:
    """The statements sent on an engine (each once, with its parameters)."""

    def __init__(self, engine) -> None:
        self.seen: list[tuple[str, object]] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._record)

    def stop(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not executemany and "deliveries" in statement and not statement.lstrip().startswith("INSERT"):
            self.seen.append((statement, parameters))


#: Each index of ``deliveries`` by its first column (PostgreSQL).
_LEADING = text("SELECT c.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                "WHERE i.indrelid = 'deliveries'::regclass")


def _plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _scans_of_deliveries(runtime, statement: str, parameters) -> list[str]:
    """How the statement's plan reads ``deliveries`` other than by an index's first column:
    read whole, or a whole index read (PostgreSQL can filter on a later column of an index
    while reading all of it)."""
    with runtime.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            leading = dict(conn.execute(_LEADING).all())
            conn.exec_driver_sql("SET enable_seqscan = off")  # a table this small is cheaper read whole
            (plan,) = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).one()
            conn.rollback()
            bad = []
            for node in _plan_nodes(plan[0]["Plan"]):
                if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "deliveries":
                    bad.append("Seq Scan on deliveries")
                elif node.get("Index Name") in leading:
                    column = leading[node["Index Name"]]
                    if not re.search(rf"\b{column} = ", node.get("Index Cond", "")):
                        bad.append(f"{node['Index Name']} read whole ({node.get('Index Cond')})")
            return bad
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        return [line for line in plan if line.startswith("SCAN deliveries")]


def test_each_reader_and_edition_query_uses_an_index(runtime):
    ids = add_subscribers(runtime, 3)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
        body_id = store_body(session, BODY)
        write_batches(session, edition.id, [(body_id, ids[:2])], [], PlanSummary(edition.id),
                      render_failed={"boom": [ids[2]]})
        edition_id = edition.id
    statements = Statements(runtime.engine)
    assert list(active_unplanned(runtime, edition_id, None, 1000, due=true())) == []  # the plan's anti-join
    assert list(active_unplanned(runtime, edition_id, ids, 1000, due=true())) == []
    with runtime.session() as session:
        subscriber = session.get(Subscriber, ids[0])
        edition = session.get(type(edition), edition_id)
        assert session.scalar(select(Batch.body_id)) == body_id
        assert _zone_sent_in(session, subscriber, body_id) == ("UTC", None)
        count_own_unsubscribe(session, ids[0])
        assert len(personal_data(session, subscriber.email)["deliveries"]) == 1
        assert read_edition_ledger(session, edition_id) is not None
        assert read_edition_ledger(session, edition_id, ids[:1]) is not None
        assert render_failed_readers(session, edition) == [ids[2]]
        assert render_failed_readers(session, edition, ids) == [ids[2]]
        assert resettable_readers(session, edition_id, DeliveryStatus.FAILED) == 0
        assert forget_render_failures(session, edition_id) == 1
        forget(session, "test-secret-key-0123456789", subscriber.email)
        assert erase_deliveries(session, [ids[1]]) == 1
    statements.stop()
    kinds = " ".join(statement.split(None, 1)[0] for statement, _ in statements.seen)
    assert len(statements.seen) >= 13, kinds
    unindexed = {statement: scans for statement, parameters in statements.seen
                 if (scans := _scans_of_deliveries(runtime, statement, parameters))}
    assert unindexed == {}
