"""``digest ingest`` through click's runner, against a config of our own."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.settings import bundled_config_path

from .helpers import briefings


def _config(tmp_path, sources: str):
    """The sample publication's config with our own ``[[sources]]``."""
    base = bundled_config_path().read_text(encoding="utf-8").split("[[sources]]")[0]
    path = tmp_path / "digest.toml"
    path.write_text(base + sources, encoding="utf-8")
    return path


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/feed"


@pytest.fixture
def invoke(db_url, tmp_path):
    def _invoke(config, *args):
        env = {"DIGEST_CONFIG": str(config), "DATABASE_URL": db_url, "DIGEST_SECRET_KEY": "k" * 32}
        return CliRunner().invoke(main, ["ingest", *args], env=env, catch_exceptions=False)
    return _invoke


def test_ingest_configured_sources(invoke, runtime, tmp_path, feed_server, fixtures_dir):
    config = _config(tmp_path, f"""
[[sources]]
name = "Northwind feed"
kind = "wordpress"
url = "{feed_server.url('wordpress.xml')}"

[[sources]]
name = "Desk folder"
kind = "folder"
path = "{fixtures_dir / 'folder'}"

[[sources]]
name = "Dead feed"
kind = "rss"
url = "{_dead_url()}"
""")
    result = invoke(config)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["source", "new", "updated", "unchanged", "rejected", "fallback", "status"]
    assert lines[1].split()[:8] == ["Northwind", "feed", "5", "0", "0", "0", "1", "ok"]
    assert lines[2].split()[:8] == ["Desk", "folder", "3", "0", "0", "0", "0", "ok"]  # 2 briefings, 1 video
    assert "Dead feed" in lines[3] and "FAILED: unreachable" in lines[3]
    assert len(briefings(runtime)) == 7

    again = invoke(config)
    assert again.exit_code == 0
    assert "not modified (304)" in again.output.splitlines()[1]


def test_ingest_urls_and_exit_status_when_all_fail(invoke, runtime, tmp_path, feed_server, fixtures_dir):
    config = _config(tmp_path, f"""
[[sources]]
kind = "rss"
url = "{_dead_url()}"
""")
    all_failed = invoke(config)
    assert all_failed.exit_code == 1
    assert "every source failed" in all_failed.output

    given = invoke(config, "--url", feed_server.url("atom.xml"), "--url", str(fixtures_dir / "bad-folder"))
    assert given.exit_code == 0, given.output
    assert "unreachable" not in given.output  # the configured source was not touched
    assert "rejected 'no-title.md': front matter: title: Field required [bad-file]" in given.output
    assert set(briefings(runtime)) == {"urn:uuid:harbourline-0001", "urn:uuid:harbourline-0002", "folder:good"}


def test_ingest_help():
    result = CliRunner().invoke(main, ["ingest", "--help"])
    assert result.exit_code == 0 and "--url" in result.output
