"""Every statement a test's database runs while it is recorded, whichever way it is run.

SQLAlchemy's ``before_cursor_execute`` event sees only what SQLAlchemy executes; on
PostgreSQL the send path runs its per-batch statements on the driver's own cursor
(:func:`digest.db.fetch_tuples`), which that event never sees. So on PostgreSQL the
driver's cursor is watched instead (every connection of the process: a test records
only while the code under test runs), and on SQLite, where ``fetch_tuples`` goes through
SQLAlchemy, the event.
"""

from __future__ import annotations

from typing import Callable

import psycopg
from sqlalchemy import Engine, event

#: What SQLAlchemy's pool sends to check a PostgreSQL connection it hands out
#: (``pool_pre_ping``): the pool's, not the code's, and never recorded.
POOL_PING = ";"
#: (statement, parameters, executemany) -> whether to keep it.
Keep = Callable[[str, object, bool], bool]


class Statements:
    """``with Statements(engine) as seen:`` ``seen.statements`` lists each statement's SQL
    (``seen.parameters`` its parameters, in the same order) run while inside, those
    ``keep`` accepts; :meth:`start` and :meth:`stop` do the same without ``with``."""

    def __init__(self, engine: Engine, keep: Keep | None = None) -> None:
        self.engine = engine
        self.keep = keep or (lambda statement, parameters, many: True)
        self.statements: list[str] = []
        self.parameters: list[object] = []
        self._undo: Callable[[], None] | None = None

    def _record(self, statement, parameters, many: bool) -> None:
        statement = statement if isinstance(statement, str) else statement.decode()
        if statement.strip() == POOL_PING:
            return
        if self.keep(statement, parameters, many):
            self.statements.append(statement)
            self.parameters.append(parameters)

    def start(self) -> "Statements":
        if self.engine.dialect.name == "postgresql":
            execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

            def watched_execute(cursor, query, params=None, **kwargs):
                self._record(query, params, False)
                return execute(cursor, query, params, **kwargs)

            def watched_executemany(cursor, query, params_seq, **kwargs):
                params_seq = list(params_seq)
                self._record(query, params_seq, True)
                return executemany(cursor, query, params_seq, **kwargs)

            psycopg.Cursor.execute, psycopg.Cursor.executemany = watched_execute, watched_executemany

            def undo() -> None:
                psycopg.Cursor.execute, psycopg.Cursor.executemany = execute, executemany
        else:
            def listener(conn, cursor, statement, parameters, context, many):
                self._record(statement, parameters, many)

            event.listen(self.engine, "before_cursor_execute", listener)

            def undo() -> None:
                event.remove(self.engine, "before_cursor_execute", listener)
        self._undo = undo
        return self

    def stop(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None

    def clear(self) -> None:
        self.statements.clear()
        self.parameters.clear()

    def __enter__(self) -> "Statements":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
