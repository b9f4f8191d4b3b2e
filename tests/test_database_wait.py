"""``digest worker`` and ``digest web`` wait for a database that is away, then go on.

Real processes and a real PostgreSQL behind a local TCP proxy the test starts and stops
(tests/fakes/tcp_proxy.py): while the proxy is stopped its port refuses connections. The
worker logs one line, retries, and once the database answers takes the scheduler lock;
the web process answers ``/healthz`` with 503 while the database is away (at start-up and
later) and 200 once it is back, and a reader's page meanwhile is a 503 "try again" page.
Neither crashes nor prints a traceback, and the password never reaches the log.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from digest.links import LinkMaker
from digest.models import Lease, Subscriber
from digest.runtime import Runtime
from digest.subscribers import SubscriberData, upsert_subscriber

from fakes.commands import wait_for
from fakes.digest_process import digest_env, launch_logged
from fakes.tcp_proxy import TcpProxy, free_port

PASSWORD = "s3cret-pw"

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # only a server can be away


def proxied(db_url: str, proxy: TcpProxy) -> str:
    """``db_url`` reached through the proxy, with a password (trust auth ignores it)."""
    url = make_url(db_url).set(host="127.0.0.1", port=proxy.port, password=PASSWORD)
    return url.render_as_string(hide_password=False)


def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def unreachable_line(db_url: str, proxy: TcpProxy) -> str:
    name = make_url(db_url).database
    return (f"DATABASE_URL: cannot reach the database at postgresql+psycopg://postgres:***@127.0.0.1:{proxy.port}/"
            f"{name}: connection to server at \"127.0.0.1\", port {proxy.port} failed: Connection refused")


def test_worker_waits_for_the_database_then_takes_the_lock(db_url, tmp_path):
    target = make_url(db_url)
    proxy = TcpProxy(target.host, target.port)
    log_path = tmp_path / "worker.log"
    # a short lease: the lock is renewed every second, so the database going away is seen at once
    process = launch_logged(["worker", "--lock-ttl", "4"], digest_env(proxied(db_url, proxy)), log_path)
    engine = create_engine(db_url)
    try:
        line = unreachable_line(db_url, proxy)
        wait_for(lambda: line in read_log(log_path) or process.poll() is not None, "the worker's first attempt")
        assert process.poll() is None, read_log(log_path)  # waiting, not exited
        proxy.start()
        wait_for(lambda: "database reachable again after" in read_log(log_path), "the worker to reach the database")
        wait_for(lambda: _lock_holder(engine) is not None, "the worker to take the scheduler lock")
        assert _lock_holder(engine).split(":")[1] == str(process.pid)  # host:pid:start

        proxy.stop()  # away while the worker runs: it stops scheduling, and stays up
        wait_for(lambda: "scheduler lock lost by" in read_log(log_path), "the worker to notice")
        time.sleep(3)  # a few more renewals fail meanwhile (one a second): they add no line
        proxy.start()
        wait_for(lambda: read_log(log_path).count("scheduler lock acquired by") == 2, "the worker to schedule again")
        process.terminate()
        assert process.wait(timeout=60) == 0
    finally:
        engine.dispose()
        if process.poll() is None:
            process.kill()
        proxy.stop()
    log = read_log(log_path)
    assert log.count(line) == 1, log  # one line, however many attempts
    assert log.count("the database did not answer for the scheduler lock") == 1, log
    assert log.count("the database answers again") == 1, log
    assert "Traceback" not in log and PASSWORD not in log


def test_web_answers_503_while_the_database_is_away_and_200_when_it_is_back(db_url, make_settings, tmp_path):
    runtime = Runtime.open(make_settings(db_url))  # directly, not through the proxy: a reader to unsubscribe
    with runtime.session() as session:
        upsert_subscriber(session, SubscriberData("away@example.com", ("gold",), "UTC", 7, "test"))
        sid = session.scalar(select(Subscriber.id).where(Subscriber.email == "away@example.com"))
    runtime.close()

    target = make_url(db_url)
    proxy = TcpProxy(target.host, target.port)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "web.log"
    process = launch_logged(["web", "--port", str(port)], digest_env(proxied(db_url, proxy), DIGEST_BASE_URL=base),
                            log_path)
    unsubscribe = base + LinkMaker(base, "test-secret-key-0123456789").unsubscribe_url(sid)[len(base):]
    try:
        first = _wait_for_answer(process, f"{base}/healthz", log_path)
        assert (first.status_code, first.json()) == (503, {"status": "starting", "database": "unavailable"})
        page = httpx.post(unsubscribe, content=b"List-Unsubscribe=One-Click", timeout=30,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert (page.status_code, page.headers["retry-after"]) == (503, "60")
        assert "Please try again in a minute" in page.text

        proxy.start()
        wait_for(lambda: _health(base) == 200, "/healthz to answer 200 once the database is back")
        proxy.stop()  # away again while serving: the health check fails, the process stays up
        wait_for(lambda: _health(base) == 503, "/healthz to answer 503 while the database is away")
        proxy.start()
        wait_for(lambda: _health(base) == 200, "/healthz to answer 200 again")
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=60)
        proxy.stop()
    log = read_log(log_path)
    assert log.count(unreachable_line(db_url, proxy)) == 1, log
    assert "Traceback" not in log and PASSWORD not in log
    assert "POST /unsubscribe/<token>: the database did not answer" in log
    assert unsubscribe.rsplit("/", 1)[1] not in log  # the reader's token is a credential


def _lock_holder(engine) -> str | None:
    with engine.connect() as conn:
        return conn.scalar(select(Lease.holder))


def _health(base: str) -> int | None:
    try:
        return httpx.get(f"{base}/healthz", timeout=30).status_code
    except httpx.TransportError:
        return None


def _wait_for_answer(process: subprocess.Popen, url: str, log_path: Path) -> httpx.Response:
    """The first answer of a web process that is starting; fails at once if it exits."""
    answer: list[httpx.Response] = []

    def answered() -> bool:
        assert process.poll() is None, f"digest web exited with {process.returncode}:\n{read_log(log_path)}"
        try:
            answer.append(httpx.get(url, timeout=30))
        except httpx.TransportError:
            return False
        return True

    wait_for(answered, "digest web to answer")
    return answer[0]
