"""Sending from worker processes while planning still writes batches (``DIGEST_SEND_PROCESSES``).

1,500 subscribers, three batches, two worker processes that start sending as soon as a batch
is committed. If planning fails after writing batches, the edition stops with that error
(nothing hangs), no batch is left half-done, and the next run sends the rest: everyone gets
exactly one email.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select, update

from digest.deliver import edition as edition_module
from digest.deliver.batch import Sender
from digest.deliver.edition import send_edition
from digest.deliver.providers.factory import make_provider
from digest.deliver.runners import GivenBatches
from digest.deliver.runners.processes import ProcessRunner
from digest.models import Batch, Subscriber
from digest.runtime import Runtime

from fakes.edition_seed import batch_statuses, ledger, outbox_recipients, read, seed_edition


@pytest.fixture
def settings(make_settings, db_url):
    """SQLite and PostgreSQL; worker processes from the first reader on."""
    return make_settings(db_url, DIGEST_PROVIDER="outbox", DIGEST_READERS_PER_SEND_PROCESS="1",
                         DIGEST_SEND_PROCESSES="2", DIGEST_SEND_CONCURRENCY="2", DIGEST_RENDER_PROCESSES="0")


def test_worker_processes_send_every_batch_once(settings):
    emails = seed_edition(settings, 1500)
    now = datetime.now(timezone.utc)
    runtime = Runtime.open(settings)
    try:
        summary = send_edition(runtime, make_provider(settings), now.date(), now=now)
    finally:
        runtime.close()
    assert summary.sent == 1500 and sum(summary.batches.values()) == 3
    assert outbox_recipients(Path(settings.outbox_dir)) == Counter({e.lower(): 1 for e in emails})
    assert set(batch_statuses(settings)) == {"sent"}
    # Claimed by the worker processes, each under its own identity, not by this one.
    claimants = {c.rsplit(":", 2)[1] for (c,) in read(settings, select(Batch.claimed_by))}
    assert claimants and str(os.getpid()) not in claimants


def test_a_planning_failure_stops_the_senders_and_the_next_run_sends_the_rest(settings, monkeypatch):
    emails = seed_edition(settings, 1500)
    now = datetime.now(timezone.utc)
    real_plan = edition_module.plan_edition

    def plan_then_fail(*args, **kwargs):
        real_plan(*args, **kwargs)  # every batch is written (and may already be sending)
        raise RuntimeError("the planner crashed")

    runtime = Runtime.open(settings)
    try:
        monkeypatch.setattr(edition_module, "plan_edition", plan_then_fail)
        with pytest.raises(RuntimeError, match="the planner crashed"):
            send_edition(runtime, make_provider(settings), now.date(), now=now)
        statuses = batch_statuses(settings)
        assert "sending" not in statuses and set(statuses) <= {"pending", "sent"}
        assert sum(statuses.values()) == 3

        monkeypatch.setattr(edition_module, "plan_edition", real_plan)
        send_edition(runtime, make_provider(settings), now.date(), now=now)
    finally:
        runtime.close()
    assert outbox_recipients(Path(settings.outbox_dir)) == Counter({e.lower(): 1 for e in emails})
    assert {status for status, _ in ledger(settings).values()} == {"sent"}


def _fork_server_children() -> set[int]:
    """This process's grandchildren: the worker processes its fork server forked."""
    return {p.pid for p in psutil.Process().children(recursive=True) if p.ppid() != os.getpid()}


def test_the_send_workers_start_before_the_first_batch_is_written(settings):
    """A worker's start (a fork, opening the database and the provider) came between the
    first batch's commit and its request: the runner now starts every worker at once."""
    runtime = Runtime.open(settings)
    try:
        runner = ProcessRunner(Sender.open(runtime, make_provider(settings)), processes=2)
        before = _fork_server_children()
        batches = GivenBatches([], planning_done=False)  # planning has written nothing yet
        runner.start(batches)
        started = set()
        for _ in range(300):  # the fork server's imports come first (up to 30 s on a busy machine)
            started = _fork_server_children() - before
            if len(started) == 2:
                break
            time.sleep(0.1)
        batches.planning_finished()
        assert list(runner.outcomes()) == []
    finally:
        runtime.close()
    assert len(started) == 2


def test_the_runner_counts_readers_only_as_far_as_it_needs(settings):
    seed_edition(settings, 5)
    runtime = Runtime.open(settings)
    try:
        with runtime.session() as session:
            session.execute(update(Subscriber).where(Subscriber.id == 5).values(status="unsubscribed"))
        assert edition_module._active_readers(runtime, None, 3) == 3
        assert edition_module._active_readers(runtime, None, 10) == 4  # the unsubscribed one is not counted
        assert edition_module._active_readers(runtime, [1, 2, 3], 2) == 2
        assert edition_module._active_readers(runtime, [1, 2], 5) == 2
    finally:
        runtime.close()
