"""``DATABASE_URL``: checked once at start-up, and the words for a database that is away.

A typo in the URL, a database we do not support or a SQLite file in a folder that does
not exist is one line naming the variable and what was expected (exit status 2), never a
traceback from the first query. No message ever holds the password: what the operator
typed is shown with it masked.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import ConfigError

EXPECTED = "postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:///PATH/TO/digest.db"
#: Backends this package ships a driver for, and the driver each must use.
DRIVERS = {"postgresql": "psycopg", "sqlite": "pysqlite"}


def normalise_database_url(url: str) -> str:
    """Accept Heroku's ``postgres://`` and pick the psycopg 3 driver for PostgreSQL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def masked(text: str) -> str:
    """``text`` (a URL as typed) with its password replaced by ``***``; what cannot be
    parsed loses everything before its last ``@``, where a password may hide."""
    try:
        return make_url(text).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "***@" + text.rsplit("@", 1)[1] if "@" in text else text


def check_database_url(text: str) -> str:
    """The normalised URL, or :class:`ConfigError` saying what is wrong with it."""
    normalised = normalise_database_url(text.strip())
    try:
        url = make_url(normalised)
    except (ArgumentError, ValueError):
        raise ConfigError(f"DATABASE_URL: expected a database URL such as {EXPECTED}; got {masked(text)!r}") from None
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise ConfigError(f"DATABASE_URL: {backend!r} databases are not supported; expected PostgreSQL or SQLite "
                          f"({EXPECTED}); got {masked(text)!r}")
    if url.get_driver_name() != DRIVERS[backend]:
        raise ConfigError(f"DATABASE_URL: the driver {url.get_driver_name()!r} is not installed; use "
                          f"{backend}:// ({DRIVERS[backend]}); got {masked(text)!r}")
    if backend == "sqlite":
        _check_sqlite_folder(url)
    return normalised


def _check_sqlite_folder(url: URL) -> None:
    name = url.database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        return
    folder = Path(name).absolute().parent  # as SQLite will open it: no '~' expansion
    if not folder.is_dir():
        raise ConfigError(f"DATABASE_URL: the folder {folder} for the SQLite database does not exist "
                          "(create it, or point DATABASE_URL at an existing folder)")


def reason_of(error: BaseException) -> str:
    """The driver's own first line for a database error (SQLAlchemy's adds the statement)."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0].removeprefix("connection failed: ").strip() if lines else type(original).__name__


def describe_unreachable(url: URL, error: BaseException) -> str:
    """One line for a database that did not answer: where (password masked) and why."""
    reason = reason_of(error)
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return f"DATABASE_URL: cannot reach the database at {url.render_as_string(hide_password=True)}: {reason}"
