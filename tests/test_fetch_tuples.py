"""``fetch_tuples`` (the driver's own cursor on PostgreSQL) returns what
``conn.execute(...).all()`` does, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import DBAPIError

from digest.db import fetch_tuples
from digest.models import Subscriber
from fakes.statements import Statements, sent_to_server

_subscribers = Subscriber.__table__
_BY_ID = select(_subscribers.c.id, _subscribers.c.email).where(_subscribers.c.id == bindparam("wanted"))


def test_same_rows_as_sqlalchemy(runtime):
    when = datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc)
    with runtime.session() as session:
        session.add_all([Subscriber(email=f"r{i}@example.com", timezone="Asia/Kolkata", send_hour=7,
                                    last_digest_at=when if i % 2 else None) for i in range(6)])
        session.commit()
        conn = session.connection()
        ids = sorted(session.scalars(select(Subscriber.id)))
        query = (select(_subscribers.c.id, _subscribers.c.email, _subscribers.c.timezone, _subscribers.c.send_hour,
                        _subscribers.c.last_digest_at)
                 .where(_subscribers.c.id.in_(ids[1:5]), _subscribers.c.id > ids[1]).order_by(_subscribers.c.id).limit(2))
        expected = [tuple(row) for row in conn.execute(query).all()]
        assert fetch_tuples(conn, query) == expected
        assert [row[0] for row in expected] == ids[2:4]
        assert expected[1][4] == when and expected[0][4] is None  # aware, whichever zone it comes back in
        for _ in range(2):  # compiled once, different values each call
            assert fetch_tuples(conn, _BY_ID, {"wanted": ids[0]}, cached=True) == [(ids[0], "r0@example.com")]
            assert fetch_tuples(conn, _BY_ID, {"wanted": ids[5]}, cached=True) == [(ids[5], "r5@example.com")]


def test_timestamps_come_back_in_utc_itself(runtime):
    """PostgreSQL sessions run in UTC (``digest.db._session_settings``), so the driver's own
    rows carry ``timezone.utc``, as the models' ``AwareDateTime`` does, and planning need
    not convert each reader's last digest (a server whose zone is ``Etc/UTC``, Debian's
    default, gave ``ZoneInfo("Etc/UTC")``)."""
    when = datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc)
    with runtime.session() as session:
        session.add(Subscriber(email="r@example.com", timezone="Asia/Kolkata", send_hour=7, last_digest_at=when))
        session.commit()
        conn = session.connection()
        [(value,)] = fetch_tuples(conn, select(_subscribers.c.last_digest_at))
    assert value == when and value.tzinfo is timezone.utc


_RENAMED = (update(_subscribers).where(_subscribers.c.id == bindparam("wanted"))
            .values(timezone="Europe/Paris", updated_at=bindparam("at"))
            .returning(_subscribers.c.id, _subscribers.c.timezone))
_TERMINATE = text("SELECT pg_terminate_backend(:pid, 5000)")  # waits (5 s at most) until it is gone


def _visible_elsewhere(runtime, wanted: int) -> str:
    with runtime.engine.connect() as other:
        return other.scalar(select(_subscribers.c.timezone).where(_subscribers.c.id == wanted))


def _one_subscriber(runtime) -> int:
    with runtime.session() as session:
        session.add(Subscriber(email="r@example.com", timezone="Asia/Kolkata", send_hour=7))
        session.commit()
        return session.scalar(select(Subscriber.id))


def test_a_first_statement_is_in_the_transaction_commit_commits(runtime):
    """Run first on a connection, the driver's statement begins SQLAlchemy's transaction
    too: ``commit()`` commits it (else the change would stay in a transaction the
    connection does not know of, rolled back when it goes back to the pool)."""
    wanted = _one_subscriber(runtime)
    with runtime.engine.connect() as conn:
        rows = fetch_tuples(conn, _RENAMED, {"wanted": wanted, "at": datetime.now(timezone.utc)}, cached=True,
                            named=True)
        assert [(row.id, row.timezone) for row in rows] == [(wanted, "Europe/Paris")]
        assert conn.in_transaction()
        conn.commit()
    with runtime.engine.connect() as conn:
        assert conn.scalar(select(_subscribers.c.timezone)) == "Europe/Paris"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: SQLAlchemy's own execution
def test_a_lost_connection_is_sqlalchemys_invalidated_error(runtime):
    """The driver's error becomes SQLAlchemy's, a lost connection invalidated and said so,
    as for a statement SQLAlchemy runs itself: what LedgerConnection reconnects on."""
    with runtime.engine.connect() as conn:
        conn.execute(select(1))
        with runtime.engine.connect() as other:
            assert other.scalar(_TERMINATE, {"pid": conn.connection.driver_connection.info.backend_pid}) is True
        with pytest.raises(DBAPIError) as lost:
            fetch_tuples(conn, _BY_ID, {"wanted": 1}, cached=True)
        assert lost.value.connection_invalidated and conn.invalidated
        assert "terminating connection" in str(lost.value.orig)
    with runtime.engine.connect() as conn:  # the pool hands out a live one again
        assert fetch_tuples(conn, _BY_ID, {"wanted": 1}, cached=True) == []


def test_the_tests_recorder_sees_statements_on_the_drivers_cursor(runtime):
    """Tests that count or read the statements a step runs (``fakes.statements``) see
    those ``fetch_tuples`` runs on the driver's cursor, not only SQLAlchemy's."""
    with runtime.engine.connect() as conn:
        with Statements(runtime.engine) as recorded:
            fetch_tuples(conn, _BY_ID, {"wanted": 1}, cached=True)
            conn.execute(select(_subscribers.c.email))
    assert [s.split()[:4] for s in recorded.statements] == [
        ["SELECT", "subscribers.id,", "subscribers.email", "FROM"], ["SELECT", "subscribers.email", "FROM", "subscribers"]]


def test_a_statement_that_needs_python_side_defaults_is_refused(runtime):
    """``updated_at``'s ``onupdate`` is computed by SQLAlchemy as it executes a statement:
    run on the driver's cursor it would be NULL. Refused with a clear error on PostgreSQL
    (on SQLite SQLAlchemy runs it, default and all)."""
    renamed = update(_subscribers).where(_subscribers.c.id == bindparam("wanted")).values(timezone="Europe/Paris")
    with runtime.engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            assert fetch_tuples(conn, renamed.returning(_subscribers.c.id), {"wanted": 1}) == []
            return
        with pytest.raises(ValueError, match="updated_at.*SQLAlchemy computes in Python"):
            fetch_tuples(conn, renamed.returning(_subscribers.c.id), {"wanted": 1})


def test_alone_a_statement_is_committed_as_it_runs(runtime):
    """``alone``, with no transaction open: committed by the statement itself (another
    connection sees it at once), nothing left open, and the connection back in
    transactions for what comes next."""
    wanted = _one_subscriber(runtime)
    with runtime.engine.connect() as conn:
        rows = fetch_tuples(conn, _RENAMED, {"wanted": wanted, "at": datetime.now(timezone.utc)}, cached=True,
                            alone=True)
        assert rows == [(wanted, "Europe/Paris")]
        assert not conn.in_transaction()
        assert _visible_elsewhere(runtime, wanted) == "Europe/Paris"
        conn.execute(update(_subscribers).values(timezone="Asia/Tokyo"))  # an ordinary transaction after it
        conn.rollback()
        assert _visible_elsewhere(runtime, wanted) == "Europe/Paris"
        if conn.dialect.name == "postgresql":
            assert conn.connection.driver_connection.autocommit is False


def test_alone_inside_an_open_transaction_is_part_of_it(runtime):
    wanted = _one_subscriber(runtime)
    with runtime.engine.connect() as conn:
        conn.execute(select(1))  # a transaction is open
        fetch_tuples(conn, _RENAMED, {"wanted": wanted, "at": datetime.now(timezone.utc)}, cached=True, alone=True)
        assert conn.in_transaction()
        assert _visible_elsewhere(runtime, wanted) == "Asia/Kolkata"
        conn.rollback()
    assert _visible_elsewhere(runtime, wanted) == "Asia/Kolkata"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # round trips: the server's protocol
def test_alone_sends_no_begin_or_commit(runtime, tmp_path):
    """What the client sends the server, read from libpq's own trace of the protocol
    (psycopg's ``PGconn.trace``): the statement and nothing else, where a statement that
    is not ``alone`` is preceded by psycopg's BEGIN and followed by the COMMIT."""
    wanted = _one_subscriber(runtime)
    params = {"wanted": wanted, "at": datetime.now(timezone.utc)}

    def sent(run) -> list[str]:
        with runtime.engine.connect() as conn:
            return sent_to_server(conn, lambda: run(conn), tmp_path / "trace.txt")

    assert sent(lambda conn: fetch_tuples(conn, _RENAMED, params, cached=True, alone=True)) == ["UPDATE"]
    assert sent(lambda conn: (fetch_tuples(conn, _RENAMED, params, cached=True), conn.commit())) == [
        "BEGIN", "UPDATE", "COMMIT"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_alone_on_a_lost_connection_invalidates_it(runtime):
    """Lost while alone: SQLAlchemy's invalidated error (what LedgerConnection reconnects
    on), and no connection handed out afterwards is left in autocommit."""
    with runtime.engine.connect() as conn:
        conn.execute(select(1))
        conn.commit()
        with runtime.engine.connect() as other:
            assert other.scalar(_TERMINATE, {"pid": conn.connection.driver_connection.info.backend_pid}) is True
        with pytest.raises(DBAPIError) as lost:
            fetch_tuples(conn, _BY_ID, {"wanted": 1}, cached=True, alone=True)
        assert lost.value.connection_invalidated and conn.invalidated
    for _ in range(3):  # every connection the pool holds
        with runtime.engine.connect() as conn:
            assert conn.connection.driver_connection.autocommit is False
