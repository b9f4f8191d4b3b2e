"""Engine, sessions and schema migrations.

Migrations are Alembic's, shipped inside the package so ``digest db upgrade`` works from
an installed wheel (the Procfile's ``release:`` phase). Commands other than ``db upgrade``
call :func:`ensure_schema`, which upgrades an empty SQLite database on first use and
otherwise refuses to run against a schema that is behind, naming the command to run.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from importlib import resources
from typing import TYPE_CHECKING, Iterator

from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, Engine, Executable, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .database_url import describe_unreachable
from .errors import DigestError

if TYPE_CHECKING:
    from alembic.config import Config


class SchemaOutOfDate(DigestError):
    pass


class DatabaseUnavailable(DigestError):
    """The database did not answer (refused, unknown host, timed out, file not openable)."""


#: What the drivers raise when the database does not answer (and, on SQLite, for some
#: wrong statements too: only a failed *connection* is taken to mean "away").
UNREACHABLE = (OperationalError, InterfaceError)

#: Seconds a PostgreSQL connection attempt may take: a host that drops packets must
#: become one clear line, not a process hanging for minutes.
CONNECT_TIMEOUT = 10


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "connect_timeout" not in url:
        kwargs.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT})
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _session_settings)
    return engine


#: Every PostgreSQL session's settings (see :func:`_session_settings`).
SESSION_SETTINGS = "SET TIME ZONE 'UTC'; SET jit = off"


def _session_settings(dbapi_conn, _record) -> None:
    """Every PostgreSQL session in UTC, and without JIT compilation.

    UTC: the driver then gives timestamps with ``datetime.timezone.utc`` (what the models'
    ``AwareDateTime`` gives), not the server's zone as a ``ZoneInfo`` (Debian's default is
    ``Etc/UTC``), which planning converted row by row (``astimezone``: 0.45 s of CPU per
    180,000 readers with a last digest) and which makes every comparison of such datetimes
    look its offset up. No statement depends on the session's zone otherwise (no casts of
    timestamps to dates in SQL).

    No JIT: PostgreSQL (11 and later, on by default) compiles a statement whose estimated
    cost passes ``jit_above_cost`` with LLVM, and optimises and inlines it past
    ``jit_optimize_above_cost``. The worker's question of who is owed a closed send window
    is one statement with a condition per (zone, send hour) group, 288 of them at 24 zones
    and 12 hours: at a million readers its execution took 1.4 s and its compilation 12 s
    of every process running it (34 s of CPU over a parallel plan's three): a new
    worker's first tick took 13 s there, 2.5-2.9 s without JIT, and an hour's tick's
    question of who is due 1.0 against 0.7 s (``benchmarks/RESULTS.md``, "JIT"). Nothing
    here is a long analytic query that compilation would pay back.

    A ``SET`` once per new connection, not a startup option, which connection poolers
    such as PgBouncer refuse; where a pooler hands the session to others, values are
    still converted where read (planning checks each one's zone)."""
    with dbapi_conn.cursor() as cursor:
        cursor.execute(SESSION_SETTINGS)
    dbapi_conn.commit()


def check_reachable(engine: Engine) -> None:
    """Open one connection, or raise :class:`DatabaseUnavailable` saying where and why
    (password masked)."""
    try:
        with engine.connect():
            pass
    except UNREACHABLE as exc:
        raise DatabaseUnavailable(describe_unreachable(engine.url, exc)) from None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# Alembic is imported where a migration is read or run, not with this module: the send and
# render worker processes (and their fork server) never migrate, and its import was an
# eighth of the fork server's start (0.12 of 0.95 s).


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("digest") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """Upgrade a SQLite database automatically; refuse to run on an outdated server DB."""
    current, head = current_revision(engine), head_revision(engine)
    if current == head:
        return
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise SchemaOutOfDate(
        f"database schema is at {current or 'nothing'}, code expects {head}: run 'digest db upgrade'"
    )


#: PostgreSQL statements compiled once (module constants only: ``cached=True``), kept
#: with the statement so its id cannot be reused by another object.
_COMPILED: dict[int, tuple[Executable, object]] = {}


def fetch_tuples(conn: Connection, statement: Executable, params: dict | None = None, *,
                 cached: bool = False, named: bool = False, alone: bool = False) -> list[tuple]:
    """``conn.execute(statement, params).all()`` as plain tuples (``named``: named tuples,
    read by attribute as SQLAlchemy's rows are), for the reads that return one row per
    subscriber (planning reads a million-subscriber list; sending reads every recipient)
    and the send path's statements run once per batch (the claim, the body, the
    settlement: SQLAlchemy's own execution of each cost 0.15-0.2 ms of CPU more, three
    times a batch). On PostgreSQL the statement runs on the driver's own cursor, whose C
    row loading is about 4x cheaper than building SQLAlchemy rows (0.15 vs 0.55 s of CPU
    per 100,000 subscribers with their topics), in ``conn``'s transaction (begun here when
    it is the first statement, so that ``conn.commit()`` commits it). Only for statements
    whose columns and parameters need no SQLAlchemy type conversion on PostgreSQL
    (integers, strings, booleans, dates, timestamps with zone: those come back in the
    session's zone; bytes as they are stored). ``cached``: ``statement`` is a module
    constant, compiled once per process.

    ``alone``: when no transaction is open on ``conn``, the statement is a transaction of
    its own, committed as it runs. On PostgreSQL it then runs in the driver's autocommit
    mode: one round trip, where a transaction of one statement is three (psycopg's BEGIN,
    the statement, the COMMIT: 0.25 against 0.1 ms of the client's CPU and 0.18 against
    0.07 ms of the server's, measured). The send path's steps that are one statement each
    (a batch's claim, its readers' and body's reads, its settlement) run so: four round
    trips fewer a batch, its two transactions' BEGIN and COMMIT (``tests/deliver/test_batch_round_trips.py``).
    With a transaction open, the statement is part of it, as without ``alone``."""
    if conn.dialect.name != "postgresql":
        with conn.begin() if alone and not conn.in_transaction() else nullcontext():
            rows = conn.execute(statement, params or {})
            return list(rows) if named else [tuple(row) for row in rows]
    held = _COMPILED.get(id(statement)) if cached else None
    if held is None:
        held = statement, _compiled(statement, conn.dialect)
        if cached:
            _COMPILED[id(statement)] = held
    compiled = held[1]
    values = compiled.construct_params(params or {})
    driver = conn.connection.driver_connection
    autocommit = alone and not conn.in_transaction()
    if autocommit:
        driver.autocommit = True  # SQLAlchemy holds no transaction: nothing to tell it
    elif not conn.in_transaction():
        conn.begin()  # the driver begins one at the statement; SQLAlchemy's commit must know it
    cursor = driver.cursor(**_NAMED if named else {})
    try:
        with cursor:
            cursor.execute(compiled.string, values)
            return cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(conn, exc, compiled.string, values, cursor) from None
    finally:
        if autocommit:
            _end_autocommit(conn, driver)


def _end_autocommit(conn: Connection, driver) -> None:
    """The driver's connection back in transactions, as SQLAlchemy (and its pool) expect
    it; a connection that cannot be (it was lost) is invalidated, never handed on in
    autocommit."""
    if not conn.invalidated:
        try:
            driver.autocommit = False
        except conn.dialect.loaded_dbapi.Error as exc:
            conn.invalidate(exc)


_NAMED = {"row_factory": namedtuple_row}


def _compiled(statement: Executable, dialect):
    """The statement compiled for the driver; refused when a column's value is one
    SQLAlchemy computes in Python as it executes (a ``default`` or ``onupdate`` callable,
    such as ``updated_at``'s): the driver would be sent NULL for it."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    computed = [column.name for column in (*compiled.insert_prefetch, *compiled.update_prefetch)]
    if computed:
        raise ValueError(f"{', '.join(computed)}: values SQLAlchemy computes in Python as it executes the "
                         "statement; run it with conn.execute(), or give them")
    return compiled


def _as_sqlalchemy_error(conn: Connection, exc: Exception, statement: str, values: dict, cursor) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it for a statement it runs itself: its
    ``DBAPIError`` subclass, and a lost connection invalidated and said so
    (``connection_invalidated``), which is what callers that reconnect go by
    (:class:`digest.deliver.ledger.connection.LedgerConnection`)."""
    lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
    if lost:
        conn.invalidate(exc)
    return DBAPIError.instance(statement, values, exc, conn.dialect.loaded_dbapi.Error,
                               hide_parameters=conn.engine.hide_parameters, dialect=conn.dialect,
                               connection_invalidated=lost)
