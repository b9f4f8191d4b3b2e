"""Bounded bodies against the real process: a client streams 100 MB to every route, with
and without a declared length, valid tokens or signature headers. Each is refused (413,
or 403/400 when the headers or the link already say no) before its body is read, and the
server's peak memory (VmHWM, read from /proc) grows by less than 20 MB over all of them."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from digest.links import LinkMaker
from digest.runtime import Runtime
from digest.settings import bundled_config_path
from test_web_process import free_port, wait_until_healthy
from web_helpers import add_subscriber, path_of, public_key_b64, sign

SECRET = "hostile-bodies-secret-0123456789"
HUNDRED_MB = 100 * 1024 * 1024
CHUNK = b"x" * 65536


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def send_body(port: int, method: str, path: str, *, declared: bool, extra: bytes = b"") -> tuple[int, int]:
    """Stream up to 100 MB (declared with Content-Length, or chunked) until the server
    answers; returns (status, body bytes sent before the answer came)."""
    framing = b"Content-Length: %d\r\n" % HUNDRED_MB if declared else b"Transfer-Encoding: chunked\r\n"
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + framing + extra
            + b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head)
        sent = 0
        try:
            while sent < HUNDRED_MB:
                readable, writable, _ = select.select([conn], [conn], [], 30)
                if readable:
                    break
                if writable:
                    conn.sendall(CHUNK if declared else b"10000\r\n" + CHUNK + b"\r\n")
                    sent += len(CHUNK)
        except OSError:  # the server answered and closed while we were still sending
            pass
        answer = b""
        while b"\r\n" not in answer:
            got = conn.recv(4096)
            assert got, f"{method} {path}: connection closed without an answer after {sent} bytes"
            answer += got
    return int(answer.split(b" ", 2)[1]), sent


@pytest.fixture
def web_process(sqlite_url, make_settings, tmp_path, webhook_private_key):
    settings = make_settings(sqlite_url, DIGEST_SECRET_KEY=SECRET)
    runtime = Runtime.open(settings)
    sid = add_subscriber(runtime, "reader@example.com")
    runtime.close()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": sqlite_url, "DIGEST_SECRET_KEY": SECRET,
           "DIGEST_CONFIG": str(bundled_config_path()), "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
           "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key_b64(webhook_private_key)}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "web", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_healthy(process, f"http://127.0.0.1:{port}")
        yield process, port, LinkMaker("", SECRET), sid, webhook_private_key
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    # Refusals and clients that went away are not the server's errors.
    assert b"ERROR" not in stderr and b"Traceback" not in stderr, stderr.decode()


def test_a_client_that_disconnects_mid_body_is_not_an_error(web_process):
    process, port, links, sid, key = web_process
    path = links.unsubscribe_url(sid)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n".encode()
                     + b"List-Unsubscribe=One-Click&padding=")
    # The server saw the request and the disconnect; the next request is answered as usual
    # and the fixture checks, after the process stopped, that nothing was logged as an error.
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200


def test_100_mb_bodies_are_refused_before_they_are_read_and_memory_stays_flat(web_process):
    process, port, links, sid, key = web_process
    valid = {
        "unsubscribe": links.unsubscribe_url(sid),
        "preferences": links.preferences_url(sid),
        "archive": links.archive_url(sid, 1),
    }
    signed = {name: value for name, value in sign(key, b"[]").items() if name.startswith("X-")}
    signature_headers = "".join(f"{name}: {value}\r\n" for name, value in signed.items()).encode()
    # Warm up: every route once with a small body, so what is measured is the bodies.
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        warm_up = [
            client.get(valid["unsubscribe"]),
            client.post(valid["preferences"], data={"topics": ["gold"], "timezone": "UTC", "send_hour": "7"}),
            client.get(valid["archive"]),
            client.get("/confirm/forged"),
            client.post("/webhooks/sendgrid", content=b"[]", headers=signed),
            client.post(valid["unsubscribe"], data={"List-Unsubscribe": "One-Click"}),
        ]
    assert [r.status_code for r in warm_up] == [200, 200, 404, 400, 200, 200]
    before = peak_rss_kb(process.pid)
    cases = [
        ("POST", valid["unsubscribe"], b"", 413),
        ("POST", "/unsubscribe/WzFd.forged", b"", 400),
        ("POST", valid["preferences"], b"", 413),
        ("POST", "/preferences/WzFd.forged", b"", 400),
        ("POST", "/confirm/forged", b"", 400),
        ("POST", "/webhooks/sendgrid", b"", 403),
        ("POST", "/webhooks/sendgrid", signature_headers, 413),
        ("GET", valid["archive"], b"", 413),
        ("GET", "/healthz", b"", 413),
        ("POST", "/nothing-here", b"", 413),
    ]
    for method, path, extra, status in cases:
        for declared in (True, False):
            got, sent = send_body(port, method, path, declared=declared, extra=extra)
            expected = 413 if declared else status
            assert (method, path, declared, got) == (method, path, declared, expected)
            assert sent < HUNDRED_MB // 4, (method, path, declared, sent)
    growth_mb = (peak_rss_kb(process.pid) - before) / 1024
    assert growth_mb < 20, f"peak RSS grew by {growth_mb:.1f} MB"
