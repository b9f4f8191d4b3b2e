"""Every statement a test's database runs while it is recorded, whichever way it is run.

SQLAlchemy's ``before_cursor_execute`` event sees only what SQLAlchemy executes; on
PostgreSQL the send path runs its per-batch statements on the driver's own cursor
(:func:`digest.db.fetch_tuples`), which that event never sees. So on PostgreSQL the
driver's cursor is watched instead (every connection of the process: a test records
only while the code under test runs), and on SQLite, where ``fetch_tuples`` goes through
SQLAlchemy, the event.
"""

from __future__ import annotations

import re
from typing import Callable

import psycopg
from sqlalchemy import Engine, event

#: What SQLAlchemy's pool sends to check a PostgreSQL connection it hands out
#: (``pool_pre_ping``): the pool's, not the code's, and never recorded.
POOL_PING = ";"


class Statements:
    """``with Statements(engine) as recorded:`` then ``recorded.statements`` lists the SQL
    of each statement run inside, in order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self._undo: Callable[[], None] | None = None

    def _record(self, statement) -> None:
        statement = statement if isinstance(statement, str) else statement.decode()
        if statement.strip() != POOL_PING:
            self.statements.append(statement)

    def __enter__(self) -> "Statements":
        if self.engine.dialect.name == "postgresql":
            execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

            def watched_execute(cursor, query, params=None, **kwargs):
                self._record(query)
                return execute(cursor, query, params, **kwargs)

            def watched_executemany(cursor, query, params_seq, **kwargs):
                self._record(query)
                return executemany(cursor, query, params_seq, **kwargs)

            psycopg.Cursor.execute, psycopg.Cursor.executemany = watched_execute, watched_executemany

            def undo() -> None:
                psycopg.Cursor.execute, psycopg.Cursor.executemany = execute, executemany
        else:
            def listener(conn, cursor, statement, parameters, context, many):
                self._record(statement)

            event.listen(self.engine, "before_cursor_execute", listener)

            def undo() -> None:
                event.remove(self.engine, "before_cursor_execute", listener)
        self._undo = undo
        return self

    def __exit__(self, *exc) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None


def sent_to_server(conn, run: Callable[[], object], trace_file) -> list[str]:
    """The first word of each query the client sends on ``conn`` (an SQLAlchemy connection
    to PostgreSQL) while ``run()`` runs, psycopg's own BEGIN and COMMIT included, read from
    libpq's trace of the protocol (psycopg's ``PGconn.trace``): what reaches the server,
    round trip by round trip."""
    if psycopg.pq.version() < 140000:  # the trace's line format this reads came with libpq 14
        raise RuntimeError(f"libpq {psycopg.pq.version()} traces in an older format; psycopg[binary] brings a newer one")
    with open(trace_file, "w") as out:
        pgconn = conn.connection.driver_connection.pgconn
        pgconn.trace(out.fileno())
        try:
            run()
        finally:
            pgconn.untrace()
    with open(trace_file) as traced:
        # "<time>\tF\t10\tQuery\t "BEGIN"", "<time>\tF\t<length>\tParse\t "" "UPDATE subscribers ...""
        # (the statement's name, then its text, which may hold quotes of its own)
        return [m[1].split()[0].rstrip('"') for m in re.finditer(r'\tF\t\d+\t(?:Query\t "|Parse\t "[^"]*" ")(.*)', traced.read())]
