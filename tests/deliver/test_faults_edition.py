"""``digest send`` while the SendGrid server fails on purpose, and ``digest send`` killed
with SIGKILL mid-edition: after it settles, every subscriber has exactly one email or is
in a reported failed/ambiguous batch, and nobody ever has two."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.settings import load_settings

from fakes.commands import digest_command, wait_for
from fakes.edition_seed import batch_statuses, ledger, seed_edition
from fakes.fixtures import FAST_RETRY, fake_sendgrid, sendgrid_env  # noqa: F401

TODAY = datetime.now(timezone.utc).date().isoformat()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    """The production policy waits a second or more between attempts; these in-process
    runs keep the same logic with shorter waits (rate-limit resets are still honoured)."""
    from digest.deliver.providers import sendgrid

    monkeypatch.setattr(sendgrid, "RetryPolicy", lambda: replace(FAST_RETRY, deadline=30.0))


def _send(*extra: str):
    return CliRunner().invoke(main, ["send", "--date", TODAY, *extra])


def _reset_in(seconds: int) -> dict[str, str]:
    return {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + seconds)}


def _assert_settled(settings, fake, emails: list[str]) -> dict[str, tuple[str, str]]:
    """Nobody has two; whoever has none is in a failed or ambiguous batch."""
    counts = fake.delivery_counts()
    rows = ledger(settings)
    assert max(counts.values(), default=0) <= 1, [e for e, n in counts.items() if n > 1][:5]
    assert set(counts) <= {e.lower() for e in emails}
    for address in emails:
        key = address.lower()
        status, batch_status = rows[key]
        if counts[key] == 0:
            assert status in ("failed", "ambiguous") and batch_status in ("failed", "ambiguous"), (address, rows[key])
        else:
            assert status in ("sent", "ambiguous"), (address, rows[key])
    return rows


FAULTS = {
    # name: (plan the server's misbehaviour, expected delivery statuses afterwards)
    "429": (lambda f: (f.pass_next(), f.fail_next(429, headers=_reset_in(1))), {"sent"}),
    "500": (lambda f: (f.pass_next(), f.fail_next(500)), {"sent"}),
    "503": (lambda f: f.fail_next(503, times=2), {"sent"}),
    "refused": (lambda f: f.refuse_after_next(1.0), {"sent"}),
    "answer-lost": (lambda f: (f.pass_next(), f.lose_answer_next()), {"sent", "ambiguous"}),
    "400": (lambda f: (f.pass_next(), f.fail_next(400)), {"sent", "failed"}),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_settles_without_a_second_copy(fault, sendgrid_env, fake_sendgrid):
    settings = load_settings(sendgrid_env)
    emails = seed_edition(settings, 600)  # three batches: 360, 120, 120
    plan, expected = FAULTS[fault]
    plan(fake_sendgrid)

    first = _send()
    second = _send()  # settles: sends what is owed, never resends ambiguous/failed

    rows = _assert_settled(settings, fake_sendgrid, emails)
    assert {status for status, _ in rows.values()} == expected
    clean = expected == {"sent"}
    assert (first.exit_code, second.exit_code) == ((0, 0) if clean else (1, 1)), first.output + second.output
    if "ambiguous" in expected:
        assert "ambiguous" in second.output and "--resend-ambiguous" in second.output
        assert all(fake_sendgrid.delivery_counts()[e.lower()] == 1 for e in emails)  # they did get it
    if "failed" in expected:
        assert "failed" in second.output


def test_2500_subscribers_through_every_fault_in_one_edition(sendgrid_env, fake_sendgrid):
    settings = load_settings(sendgrid_env)
    emails = seed_edition(settings, 2500)  # four batches: 1000, 500, 500, 500
    f = fake_sendgrid
    f.fail_next(429, headers=_reset_in(1))  # batch 1: rate limited, then
    f.refuse_after_next(1.0)  # accepted; batch 2 then finds the server refusing connections
    f.fail_next(500)  # batch 2, once connected: 500, 503, then accepted
    f.fail_next(503)
    f.pass_next()
    f.lose_answer_next()  # batch 3: delivered, answer lost -> ambiguous
    # batch 4: normal

    first = _send()
    second = _send()

    rows = _assert_settled(settings, fake_sendgrid, emails)
    assert all(fake_sendgrid.delivery_counts()[e.lower()] == 1 for e in emails)
    assert batch_statuses(settings) == {"sent": 3, "ambiguous": 1}
    assert sum(1 for status, _ in rows.values() if status == "ambiguous") == 500
    assert first.exit_code == 1 and second.exit_code == 1
    assert "ambiguous" in second.output


# ------------------------------------------------------------ kill -9 mid-edition


def test_kill_9_mid_edition_then_run_again(sendgrid_env, fake_sendgrid):
    """Killed while a batch's request has been delivered and its answer hangs; run again:
    nobody has two, everybody has one, and exactly the batch in flight is ambiguous and
    reported (with the way to resend it). (Merged with the former
    ``test_kill_mid_edition.py``, which asserted the same on a first batch.)"""
    settings = load_settings(sendgrid_env)
    emails = seed_edition(settings, 2500)
    fake_sendgrid.pass_next()
    fake_sendgrid.delay_next(120)  # batch 2 is delivered, then its answer hangs: kill now
    env = {**os.environ, **sendgrid_env}

    proc = subprocess.Popen([*digest_command(), "send", "--date", TODAY], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(fake_sendgrid.requests) >= 2 or proc.poll() is not None, "the second batch's request")
        assert proc.poll() is None, proc.stdout.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    in_flight = {m.to.lower() for m in fake_sendgrid.delivered} - {
        p["to"][0]["email"].lower() for p in fake_sendgrid.requests[0]["personalizations"]}

    again = subprocess.run([*digest_command(), "send", "--date", TODAY], env=env,
                           capture_output=True, text=True, timeout=120)

    rows = _assert_settled(settings, fake_sendgrid, emails)
    assert all(fake_sendgrid.delivery_counts()[e.lower()] == 1 for e in emails)
    assert batch_statuses(settings) == {"sent": 3, "ambiguous": 1}  # only the batch in flight
    assert {e for e, (status, _) in rows.items() if status == "ambiguous"} == in_flight
    assert in_flight and Counter(status for status, _ in rows.values()) == {
        "sent": len(emails) - len(in_flight), "ambiguous": len(in_flight)}
    output = again.stdout + again.stderr
    assert again.returncode == 1 and "ambiguous" in output and "--resend-ambiguous" in output
