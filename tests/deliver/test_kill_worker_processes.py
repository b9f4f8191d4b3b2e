"""kill -9 of ``digest send`` in worker-process mode (``DIGEST_READERS_PER_SEND_PROCESS``
lowered so a test-sized list takes the path of a big edition): while forked send workers
hold batches, and while planning is still writing the ledger. Then ``digest send`` again:
every reader has exactly one email, and the ledger says so.

Killing only the parent orphans its worker processes (they are the fork server's
children, and the fork server exits with the parent): each notices its parent is gone,
claims nothing more, finishes and settles the batch it holds under its own identity, and
exits; the test polls until every one is gone (they used to wait forever for work that
never came). The next run then sends what is still pending, the ledger's claim deciding
who sends each batch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone

import psutil
import pytest
from sqlalchemy import create_engine, func, select, text

from digest.models import Batch, Delivery
from digest.settings import load_settings

from fakes.edition_seed import batch_statuses, ledger, read, seed_edition
from fakes.fixtures import fake_sendgrid, sendgrid_env  # noqa: F401
from worker.processes import wait_for

TODAY = datetime.now(timezone.utc).date().isoformat()
WORKER_MODE = {"DIGEST_SEND_PROCESSES": "2", "DIGEST_SEND_CONCURRENCY": "1", "DIGEST_RENDER_PROCESSES": "0",
               "DIGEST_READERS_PER_SEND_PROCESS": "1"}


def _digest_send(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from digest.cli import main; main()", "send", "--date", TODAY],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_parent(proc: subprocess.Popen) -> list[psutil.Process]:
    """SIGKILL the ``digest send`` process alone; returns its descendants (the fork server
    and the send workers), which live on."""
    descendants = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return descendants


def _assert_orphans_leave(orphans: list[psutil.Process], settings) -> None:
    """Every process the killed ``digest send`` left behind exits by itself (polled for up
    to a minute: a bound, not a speed), leaving no batch ``sending``: what a send worker
    held was settled before it left."""
    assert orphans, "the killed digest send had no worker processes"
    _gone, alive = psutil.wait_procs(orphans, timeout=60)
    assert not alive, f"still running after their parent was killed: {[p.pid for p in alive]}"
    assert not batch_statuses(settings)["sending"]


def _rerun_beside(orphans: list[psutil.Process], env: dict[str, str], settings) -> subprocess.CompletedProcess:
    """``digest send`` again (beside any orphan still finishing what it held: the ledger's
    claim decides who sends each batch); then wait until no batch is pending or sending,
    and end any orphan left."""
    again = subprocess.run([sys.executable, "-c", "from digest.cli import main; main()", "send", "--date", TODAY],
                           env=env, capture_output=True, text=True, timeout=300)
    try:
        wait_for(lambda: not (batch_statuses(settings)["sending"] or batch_statuses(settings)["pending"]), 120,
                 "every batch to be settled")
    except AssertionError as late:  # say what the rerun did and what is left
        raise AssertionError(f"{late}: {dict(batch_statuses(settings))}; the rerun exited {again.returncode}:\n"
                             f"{again.stdout}\n{again.stderr}") from None
    for child in orphans:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(orphans, timeout=30)
    return again


def _claimant_pids(settings) -> set[int]:
    return {int(c.rsplit(":", 2)[1]) for (c,) in read(settings, select(Batch.claimed_by)) if c}


def _assert_everyone_once(settings, fake, emails: list[str]) -> None:
    counts = fake.delivery_counts()
    assert counts == Counter({e.lower(): 1 for e in emails}), (
        "duplicates: " + str([e for e, n in counts.items() if n > 1][:5]),
        "missing: " + str([e for e in emails if counts[e.lower()] == 0][:5]),
    )
    assert {status for status, _ in ledger(settings).values()} == {"sent"}
    assert set(batch_statuses(settings)) == {"sent"}


def test_kill_9_while_send_workers_hold_batches_then_rerun(sendgrid_env, fake_sendgrid):
    settings = load_settings(sendgrid_env)
    emails = seed_edition(settings, 2500)  # four batches: 1,000 + 500 lithium, 500 gold, 500 both
    fake_sendgrid.delay_next(3, times=4)  # every batch is delivered, then its answer waits 3 s
    env = {**os.environ, **sendgrid_env, **WORKER_MODE}

    first = _digest_send(env)
    wait_for(lambda: len(fake_sendgrid.requests) >= 1 or first.poll() is not None, 120, "the first batch's request",
             poll=0.02)
    assert first.poll() is None, first.stdout.read()
    held = {b for (b,) in read(settings, select(Batch.id).where(Batch.status == "sending"))}
    assert held, "no batch was being sent when the parent was killed"
    orphans = _kill_parent(first)
    worker_pids = {p.pid for p in orphans}
    # What was held when the parent died was claimed by its forked send workers.
    holders = {int(c.rsplit(":", 2)[1]) for (c,) in read(settings, select(Batch.claimed_by).where(Batch.id.in_(held)))}
    assert holders and holders <= worker_pids and first.pid not in holders
    _assert_orphans_leave(orphans, settings)
    assert set(batch_statuses(settings)) <= {"sent", "pending"}  # what they held went out, once

    again = _rerun_beside(orphans, env, settings)
    assert again.returncode == 0, again.stdout + again.stderr
    _assert_everyone_once(settings, fake_sendgrid, emails)
    assert first.pid not in _claimant_pids(settings)
    assert sum(batch_statuses(settings).values()) == 4


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the hold is a PostgreSQL table lock
def test_kill_9_during_planning_then_rerun(db_url, sendgrid_env, fake_sendgrid):
    """Planning is held mid-ledger (the test locks the deliveries table once the first
    batches are committed), the parent killed there, and the ledger checked to be partial."""
    settings = load_settings(sendgrid_env)
    readers = 12_500  # planned in chunks of 5,000: three ledger writes at least
    emails = seed_edition(settings, readers)
    env = {**os.environ, **sendgrid_env, **WORKER_MODE}
    engine = create_engine(db_url)
    try:
        first = _digest_send(env)
        wait_for(lambda: read(settings, select(func.count()).select_from(Batch))[0][0] > 0 or first.poll() is not None,
                 120, "the first batches to be committed", poll=0.02)
        assert first.poll() is None, first.stdout.read()
        with engine.connect() as conn:
            # Waits for the ledger write in progress to commit, then holds back the next.
            conn.execute(text("LOCK TABLE deliveries IN SHARE MODE"))
            planned = conn.execute(select(func.count()).select_from(Delivery)).scalar_one()
            assert 0 < planned < readers, f"planning was not cut: {planned} of {readers} rows"
            assert first.poll() is None, first.stdout.read()
            orphans = _kill_parent(first)
            conn.rollback()
        assert read(settings, select(func.count()).select_from(Delivery))[0][0] == planned  # still partial
    finally:
        engine.dispose()
    _assert_orphans_leave(orphans, settings)

    again = _rerun_beside(orphans, env, settings)
    assert again.returncode == 0, again.stdout + again.stderr
    _assert_everyone_once(settings, fake_sendgrid, emails)
