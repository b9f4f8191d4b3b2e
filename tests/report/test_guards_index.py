"""The guards' sums over the last days read ``ix_edition_counters_own_figure_day``, not the
whole ``edition_counters`` table, in the statement :func:`held_reason` runs and in the claim
that reads the same columns before every batch; also in the generic plan PostgreSQL may
settle on for a statement the driver prepares (it runs thousands of times an edition).

Counters of 60 daily editions, dated 3 Oct to 1 Dec 2026, each with a week of events (up to
1 Dec): 11 figures of its own a day, 12 topic rows and 40 clicked links' rows a day, and
``sent`` on 16 shards: 26,097 rows, enough for PostgreSQL's planner to scan the table when
no index fits. Each own figure of a day is 100 delivered, 1 complained, 2 bounced, 3
blocked, 4 dropped (the others 5 each). The 7 days from 25 Nov to 1 Dec have the events of
the 7 editions of days 0-6 before each day: 49 rows a figure, so 4,900 delivered and 49
complained lately; edition 60 (1 Dec) has one day of events.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from psycopg import sql
from sqlalchemy import create_engine, insert, text
from sqlalchemy.dialects.postgresql import psycopg

from digest.deliver.ledger.claims import _CLAIM_TO_SEND
from digest.deliver.send_moments import moment_params
from digest.models import Batch, Edition, EditionCounter, RenderedBody
from digest.report.guards import _HELD_STATE, held_state_params

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
INDEX = "ix_edition_counters_own_figure_day"
OWN = {"delivered": 100, "complained": 1, "bounced": 2, "blocked": 3, "dropped": 4, "deferred": 5, "opened": 5,
       "machine_opened": 5, "clicked": 5, "clicks": 5, "unsubscribed": 5}
EDITIONS = 60


def seed(engine) -> None:
    first = NOW.date() - timedelta(days=EDITIONS - 1)
    rows = []
    for n in range(1, EDITIONS + 1):
        dated = first + timedelta(days=n - 1)
        rows += [{"edition_id": n, "day": dated, "figure": "sent", "item": "", "count": 10, "shard": s}
                 for s in range(16)]
        for day in (dated + timedelta(days=d) for d in range(7) if dated + timedelta(days=d) <= NOW.date()):
            rows += [{"edition_id": n, "day": day, "figure": f, "item": "", "count": c, "shard": 0} for f, c in OWN.items()]
            rows += [{"edition_id": n, "day": day, "figure": f, "item": f"topic:{t}", "count": 7, "shard": 0}
                     for f in ("delivered", "opened", "clicked") for t in ("gold", "silver", "copper", "nickel")]
            rows += [{"edition_id": n, "day": day, "figure": "clicks", "item": f"url:{n:032d}{u:032d}",
                      "url": f"https://example.com/{n}/{u}", "count": 1, "shard": 0} for u in range(40)]
    with engine.begin() as conn:
        conn.execute(insert(Edition), [{"id": n, "date": first + timedelta(days=n - 1), "slot": "daily",
                                        "created_at": NOW} for n in range(1, EDITIONS + 1)])
        conn.execute(insert(RenderedBody), [{"id": 1, "fingerprint": "fp", "subject": "s", "created_at": NOW}])
        conn.execute(insert(Batch), [{"id": 1, "edition_id": EDITIONS, "number": 1, "body_id": 1, "created_at": NOW}])
        conn.execute(insert(EditionCounter), rows)
        conn.execute(text("ANALYZE"))
    assert len(rows) == 26_097


def claim_params() -> dict:
    return {"claim_id": 1, "claim_by": "w:1:1", "claim_at": NOW, "own_by": "w:1:1", "own_at": NOW,
            **moment_params(NOW, "sendgrid"), **held_state_params(NOW)}


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


def counter_reads_pg(conn, statement, params: dict, *, generic: bool) -> list[tuple[str, str]]:
    """(node type, index) of each index read of ``statement``'s plan on a ``day >=``
    condition, after checking no node scans the edition_counters table. ``generic``: the plan
    of the statement prepared, planned without its parameters' values."""
    dialect = psycopg.dialect(paramstyle="numeric_dollar")
    compiled = statement.compile(dialect=dialect)
    values = [compiled.construct_params(params)[name] for name in compiled.positiontup]
    raw = conn.connection.driver_connection
    raw.execute(f"PREPARE guards_plan AS {compiled}")
    try:
        raw.execute(f"SET plan_cache_mode = {'force_generic_plan' if generic else 'force_custom_plan'}")
        arguments = sql.SQL(", ").join(sql.Literal(value) for value in values)  # a utility statement: no binds
        [[document]] = raw.execute(sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE guards_plan({})").format(arguments)).fetchall()
    finally:
        raw.execute("DEALLOCATE guards_plan")
        raw.execute("RESET plan_cache_mode")
    document = json.loads(document) if isinstance(document, str) else document
    nodes = list(plan_nodes(document[0]["Plan"]))
    scans = [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "edition_counters"]
    assert scans == [], f"a scan of the whole edition_counters table (generic plan: {generic}): {scans}"
    return [(n["Node Type"], n["Index Name"]) for n in nodes if "day >=" in n.get("Index Cond", "")]


def counter_reads_sqlite(conn, statement) -> list[str]:
    compiled = statement.compile(conn)  # SQLite plans without the values: none are given
    plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", (None,) * len(compiled.positiontup)).all()
    details = [row[3] for row in plan if " edition_counters" in row[3]]
    assert [d for d in details if d.startswith("SCAN")] == [], details
    return [d for d in details if "day>" in d]


def test_the_guards_sum_the_last_days_through_the_index(db_url):
    engine = create_engine(db_url)
    try:
        seed(engine)
        with engine.connect() as conn:
            state = conn.execute(_HELD_STATE, {"g_edition": EDITIONS, **held_state_params(NOW)}).one()
            assert (state.delivered_lately, state.complained_lately) == (4_900, 49)
            assert (state.delivered, state.bounced, state.blocked, state.dropped) == (100, 2, 3, 4)
            for statement, params in ((_HELD_STATE, {"g_edition": EDITIONS, **held_state_params(NOW)}),
                                      (_CLAIM_TO_SEND, claim_params())):
                if engine.dialect.name == "postgresql":
                    for generic in (False, True):
                        reads = counter_reads_pg(conn, statement, params, generic=generic)
                        assert len(reads) == 2 and {index for _, index in reads} == {INDEX}, (generic, reads)
                else:
                    assert counter_reads_sqlite(conn, statement) == [
                        f"SEARCH edition_counters USING INDEX {INDEX} (figure=? AND day>?)"] * 2
    finally:
        engine.dispose()
