"""``digest preview`` on the command line (SQLite; the builder is tested on both stores)."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from select_seeding import Seeder

from digest.cli import main
from digest.runtime import Runtime
from digest.settings import bundled_config_path


@pytest.fixture
def cli_env(sqlite_url, make_settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {
        "DIGEST_CONFIG": str(bundled_config_path()),
        "DATABASE_URL": sqlite_url,
        "DIGEST_SECRET_KEY": "cli-test-secret-0123456789",
        "DIGEST_BASE_URL": "https://digest.test",
    }
    rt = Runtime.open(make_settings(sqlite_url))
    with rt.session() as session:
        Seeder(session).briefing(title="Copper on the move", topics=("copper",), hours_ago=1)
    rt.close()
    return env


def run(env, *args):
    result = CliRunner().invoke(main, ["preview", *args], env=env, catch_exceptions=False)
    return result


def test_default_output_is_an_html_file_here_and_its_path_is_printed(cli_env, tmp_path):
    result = run(cli_env, "--date", "2026-11-27")
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.name == "preview-2026-11-27.html"
    assert (tmp_path / path).is_file()
    assert "Copper on the move" in (tmp_path / path).read_text()


def test_eml_to_a_chosen_path_parses_as_the_subscriber_message(cli_env, tmp_path):
    out = tmp_path / "out" / "x.eml"
    out.parent.mkdir()
    result = run(cli_env, "--topics", "copper,gold", "--date", "2026-11-27", "--format", "eml", "--output", str(out))
    assert result.exit_code == 0, result.output
    msg = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().count("Copper on the move") >= 1


def test_txt_and_open(cli_env, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    result = run(cli_env, "--date", "2026-11-27", "--format", "txt", "--open")
    assert result.exit_code == 0, result.output
    assert opened == [(tmp_path / "preview-2026-11-27.txt").resolve().as_uri()]
    assert "Copper on the move" in (tmp_path / "preview-2026-11-27.txt").read_text()


def test_errors_are_one_line_with_exit_status_2(cli_env):
    result = CliRunner().invoke(main, ["preview", "--subscriber", "ghost@example.com"], env=cli_env)
    assert result.exit_code == 2
    assert "ghost@example.com" in result.stderr


def test_serve_runs_the_live_page_on_the_given_port(cli_env, monkeypatch):
    calls = []
    monkeypatch.setattr("digest.preview.server.serve", lambda runtime, port, open_browser: calls.append((port, open_browser)))
    result = run(cli_env, "--serve", "--port", "8765", "--open")
    assert result.exit_code == 0, result.output
    assert calls == [(8765, True)]


def test_output_dash_writes_the_email_to_standard_output_and_no_file(cli_env, tmp_path):
    result = run(cli_env, "--date", "2026-11-27", "--output", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!doctype html>") and "Copper on the move" in result.stdout
    assert list(tmp_path.glob("preview-*")) == []


def test_nothing_new_is_said_instead_of_an_empty_email(cli_env, tmp_path):
    # The 27 Nov edition at 07:00 Toronto (12:00 UTC) for a new reader looks back 72 hours
    # (new_subscriber_hours): nothing on lithium since 24 Nov 12:00 UTC.
    result = run(cli_env, "--topics", "lithium", "--date", "2026-11-27")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("nothing new for this reader since 2026-11-24 12:00Z: a real send skips them "
                             "(no-new-items)\n")
    assert list(tmp_path.glob("preview-*")) == []
