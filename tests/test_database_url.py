"""A ``DATABASE_URL`` that is wrong, or a database that is away, for one-shot commands.

Real ``digest`` processes: a malformed or unsupported URL or a missing SQLite folder is
one line on stderr naming the variable and what was expected, exit status 2, for
``status``, ``send``, ``worker`` and ``web`` alike; a database that refuses is one line
and exit 2 for ``status`` and ``send`` (the worker and web wait for it instead:
tests/test_database_wait.py). No password is ever echoed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.database_url import check_database_url
from digest.errors import ConfigError

from fakes.digest_process import digest_env, start_digest
from fakes.tcp_proxy import free_port

PASSWORD = "s3cret-pw"
EXPECTED = "postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:///PATH/TO/digest.db"


def bad_urls(tmp_path: Path) -> dict[str, str]:
    """Each bad URL and the one line it must give (worked out by hand)."""
    return {
        "notaurl": f"error: DATABASE_URL: expected a database URL such as {EXPECTED}; got 'notaurl'",
        f"mysql://digest:{PASSWORD}@127.0.0.1/digest":
            f"error: DATABASE_URL: 'mysql' databases are not supported; expected PostgreSQL or SQLite ({EXPECTED}); "
            "got 'mysql://digest:***@127.0.0.1/digest'",
        f"sqlite:///{tmp_path}/missing/digest.db":
            f"error: DATABASE_URL: the folder {tmp_path}/missing for the SQLite database does not exist "
            "(create it, or point DATABASE_URL at an existing folder)",
    }


COMMANDS = {"status": ["status"], "send": ["send"], "worker": ["worker"], "web": ["web", "--port", "8999"]}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_database_url_is_one_line_and_exit_2(command, tmp_path, monkeypatch):
    """Every bad URL in-process (the check is the same for every command), then one in a real process."""
    monkeypatch.chdir(tmp_path)
    expected = bad_urls(tmp_path)
    for url, line in expected.items():
        result = CliRunner().invoke(main, COMMANDS[command], env=digest_env(url))
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", line + "\n"), url

    url = list(expected)[list(COMMANDS).index(command) % len(expected)]  # each URL in some real process
    process = start_digest(COMMANDS[command], digest_env(url), tmp_path)
    stdout, stderr = process.communicate(timeout=120)
    assert (process.returncode, stdout, stderr) == (2, "", expected[url] + "\n")


@pytest.mark.parametrize("command", ["status", "send"])
def test_a_refused_database_is_one_line_and_exit_2_for_one_shot_commands(command, tmp_path):
    port = free_port()  # nothing listens there: connections are refused
    url = f"postgres://digest:{PASSWORD}@127.0.0.1:{port}/digest"
    process = start_digest([command], digest_env(url), tmp_path)
    stdout, stderr = process.communicate(timeout=120)
    assert (process.returncode, stdout) == (2, "")
    assert stderr == (f"error: DATABASE_URL: cannot reach the database at postgresql+psycopg://digest:***@127.0.0.1:"
                      f"{port}/digest: connection to server at \"127.0.0.1\", port {port} failed: Connection refused\n")


@pytest.mark.parametrize("args", [["db", "upgrade"], ["subscribers", "list"]])
def test_other_commands_say_the_same_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    port = free_port()
    result = CliRunner().invoke(main, args, env=digest_env(f"postgres://digest:{PASSWORD}@127.0.0.1:{port}/digest"))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"error: DATABASE_URL: cannot reach the database at postgresql+psycopg://digest:***@"
                             f"127.0.0.1:{port}/digest: connection to server at \"127.0.0.1\", port {port} failed: "
                             "Connection refused\n")


@pytest.mark.parametrize("url, normalised", [
    ("postgres://u:p@db.example:5432/d", "postgresql+psycopg://u:p@db.example:5432/d"),  # Heroku's spelling
    ("postgresql://u@/d?host=/run/postgresql", "postgresql+psycopg://u@/d?host=/run/postgresql"),
    ("sqlite://", "sqlite://"),
    ("sqlite:///relative.db", "sqlite:///relative.db"),  # the working directory exists
])
def test_good_urls_are_kept(url, normalised):
    assert check_database_url(url) == normalised


@pytest.mark.parametrize("url, message", [
    ("", "DATABASE_URL: expected a database URL such as " + EXPECTED + "; got ''"),
    (f"postgresql+psycopg2://u:{PASSWORD}@h/d", "DATABASE_URL: the driver 'psycopg2' is not installed; "
     "use postgresql:// (psycopg); got 'postgresql+psycopg2://u:***@h/d'"),
    (f"postgres//u:{PASSWORD}@h/d",  # unparseable: everything before the last '@' is hidden
     "DATABASE_URL: expected a database URL such as " + EXPECTED + "; got '***@h/d'"),
])
def test_other_bad_urls_name_the_variable_and_hide_the_password(url, message):
    with pytest.raises(ConfigError) as caught:
        check_database_url(url)
    assert str(caught.value) == message
