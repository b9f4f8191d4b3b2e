"""Smoke test of the real process: ``digest web --port N`` serves a one-click unsubscribe."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from digest.links import LinkMaker
from digest.runtime import Runtime
from digest.settings import bundled_config_path
from web_helpers import add_subscriber, path_of, subscriber_state

SECRET = "process-test-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(process: subprocess.Popen, base: str) -> None:
    """Poll /healthz until it answers; fail at once if the process exits."""
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"digest web exited with {process.returncode}: {process.stderr.read().decode()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("digest web did not become healthy")


def test_digest_web_serves_one_click_unsubscribe(sqlite_url, make_settings, tmp_path):
    settings = make_settings(sqlite_url, DIGEST_SECRET_KEY=SECRET)
    runtime = Runtime.open(settings)
    sid = add_subscriber(runtime, "process@example.com")

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_CONFIG": str(bundled_config_path()),
        "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
        "PORT": "1",  # --port wins over $PORT
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "web", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(process, base)
        url = base + path_of(LinkMaker(base, SECRET).unsubscribe_url(sid))
        response = httpx.post(url, content=b"List-Unsubscribe=One-Click", timeout=5,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        assert subscriber_state(runtime, sid)["status"] == "unsubscribed"
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
        runtime.close()
    logs = stdout.decode() + stderr.decode()
    assert "process-test-secret" not in logs
    assert "/unsubscribe/<token>" in logs  # uvicorn's access log line, token redacted
    assert url.rsplit("/", 1)[1] not in logs


def test_digest_web_refuses_to_start_without_a_secret(sqlite_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DIGEST_SECRET_KEY"}
    env.update(DATABASE_URL=sqlite_url, DIGEST_CONFIG=str(bundled_config_path()))
    result = subprocess.run(
        [sys.executable, "-c", "from digest.cli import main; main()", "web", "--port", str(free_port())],
        env=env, cwd=tmp_path, capture_output=True, timeout=60,
    )
    assert result.returncode == 2
    assert b"DIGEST_SECRET_KEY" in result.stderr
