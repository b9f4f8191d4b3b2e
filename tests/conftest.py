"""Shared fixtures.

Database tests take the ``runtime`` (or ``db_url``) fixture and run twice: on SQLite and
on the real PostgreSQL server. Services this machine kind provides (PostgreSQL, Redis,
Debian's chromium) are skipped with a clear message when missing, except under
``CI=true``, where a missing service fails the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from digest import db
from digest.models import Base
from digest.runtime import Runtime
from digest.settings import load_settings

PG_ADMIN_URL = os.environ.get("DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("DIGEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = os.environ.get("DIGEST_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_service(message: str):
    """Skip locally; fail under CI, where every service must be present."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services are required)", pytrace=False)
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh database on the PostgreSQL server for this test process, migrated to head."""
    server = make_url(PG_ADMIN_URL)
    host, port = server.host or "127.0.0.1", server.port or 5432
    if not _port_open(host, port):
        missing_service(f"PostgreSQL is not reachable on {host}:{port}")
    name = f"digest_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        missing_service(f"cannot create a PostgreSQL test database: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


# ---------------------------------------------------------------- SQLite


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database through SQLite's backup API. Our databases
    run in WAL mode: a file copy leaves out what is still in the ``-wal`` file (a
    connection left open keeps it there), and copies made a moment apart could then
    differ; ``test_benchmark_path`` once got a copy without some of a seed's rows."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file, copied for every test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, _sqlite_template) -> str:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "digest.db"
        copy_sqlite(_sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    return url


class Databases:
    """Migrated databases of one backend for a test that needs several with the same
    rows (the benchmark's path test, a run compared with another): :meth:`empty`, and
    :meth:`copy` of one whose connections are closed (SQLite: a file copy; PostgreSQL:
    ``CREATE DATABASE ... TEMPLATE``). PostgreSQL ones are dropped after the test."""

    def __init__(self, backend: str, tmp_path: Path, sqlite_template: Path, postgres_template: str | None):
        self.backend, self._tmp, self._sqlite_template, self._pg_template = backend, tmp_path, sqlite_template, postgres_template
        self._created: list[str] = []

    def empty(self, name: str) -> str:
        if self.backend == "sqlite":
            return self._copy_file(self._sqlite_template, name)
        return self._copy_postgres(self._pg_template, name)

    def copy(self, url: str, name: str) -> str:
        if self.backend == "sqlite":
            return self._copy_file(Path(url.removeprefix("sqlite:///")), name)
        return self._copy_postgres(url, name)

    def _copy_file(self, source: Path, name: str) -> str:
        path = self._tmp / f"{name}.db"
        copy_sqlite(source, path)
        return f"sqlite:///{path}"

    def _copy_postgres(self, source_url: str, name: str) -> str:
        database = f"digest_test_{uuid.uuid4().hex[:10]}_{name}"[:63]
        source = source_url.rsplit("/", 1)[1]
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}" TEMPLATE "{source}"'))
        admin.dispose()
        self._created.append(database)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database

    def drop_all(self) -> None:
        if not self._created:
            return
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for database in self._created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _postgres_template(postgres_url) -> str:
    """A migrated PostgreSQL database nobody connects to: the template of :class:`Databases`."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    source = postgres_url.rsplit("/", 1)[1]
    name = f"{source}_template"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    yield url
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request, tmp_path, _sqlite_template):
    """:class:`Databases` on SQLite, then on PostgreSQL."""
    template = request.getfixturevalue("_postgres_template") if request.param == "postgresql" else None
    made = Databases(request.param, tmp_path, _sqlite_template, template)
    yield made
    made.drop_all()


@pytest.fixture
def sqlite_url(tmp_path, _sqlite_template) -> str:
    """A migrated, empty SQLite database, for tests that need only one backend."""
    path = tmp_path / "digest.db"
    copy_sqlite(_sqlite_template, path)
    return f"sqlite:///{path}"


# ---------------------------------------------------------------- settings / runtime


@pytest.fixture
def make_settings(tmp_path):
    """Settings on the bundled sample config, with env overrides as keyword arguments."""

    def _make(database_url: str | None = None, **env: str):
        environ = {
            "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'settings.db'}",
            "DIGEST_OUTBOX": str(tmp_path / "outbox"),
            "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
            "DIGEST_BASE_URL": "https://digest.test",
        }
        environ.update(env)
        return load_settings(environ, demo=True)

    return _make


@pytest.fixture
def runtime(db_url, make_settings):
    """A Runtime on a migrated, empty database (SQLite and PostgreSQL), topics synced."""
    rt = Runtime.open(make_settings(db_url))
    yield rt
    rt.close()


# ---------------------------------------------------------------- other services


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not _port_open("127.0.0.1", 6379):
        missing_service("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(scope="session")
def playwright_api():
    """``playwright.sync_api``: skipped locally when missing, a failure under CI."""
    try:
        import playwright.sync_api as api
    except ImportError:
        missing_service("playwright is not installed (pip install -e '.[test]')")
    return api


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        missing_service(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def spamassassin_path() -> str:
    """Debian's spamassassin (scripts/test installs it), for the content-score checks."""
    path = shutil.which("spamassassin")
    if path is None:
        missing_service("Debian's spamassassin is not installed (apt-get install spamassassin)")
    return path
