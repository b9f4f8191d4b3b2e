"""Render and send workers come from one shared multiprocessing context
(:mod:`digest.deliver.worker_processes`): on Linux a fork server that has imported what workers
need, so a worker does not pay the interpreter's imports again.

The probes handed to workers are ``eval`` of a string: ``eval`` is pickled by name, so the
worker imports nothing (not even this module) before it looks at what it has loaded.
"""

from __future__ import annotations

import importlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.deliver import worker_processes as workers
from digest.deliver.worker_processes import PRELOAD, stop_fork_server, worker_context

needs_fork_server = pytest.mark.skipif(not workers.uses_fork_server(), reason="no fork server on this platform")


def _fork_server_pid() -> int | None:
    from multiprocessing import forkserver

    return forkserver._forkserver._forkserver_pid


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def test_the_context_is_a_fork_server_on_linux_and_spawn_elsewhere(monkeypatch):
    expected = "forkserver" if sys.platform.startswith("linux") else "spawn"
    assert worker_context().get_start_method() == expected
    monkeypatch.setattr(workers.sys, "platform", "darwin")
    assert worker_context().get_start_method() == "spawn"


def test_only_the_fork_server_ignores_sigterm():
    # This process imported every worker module (above) but not the fork server's own.
    assert "digest.deliver.fork_server" not in sys.modules
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
    assert PRELOAD[0] == "digest.deliver.fork_server"


def test_every_preloaded_module_imports():
    # The fork server skips a name that does not import: a typo would quietly bring back
    # the imports in every worker.
    # The first (ignores SIGTERM, turns the collector off) and the last (freezes the heap)
    # change the process that imports them: checked in a fresh interpreter.
    for name in PRELOAD[1:-1]:
        importlib.import_module(name)
    assert subprocess.run([sys.executable, "-c", f"import {PRELOAD[0]}, {PRELOAD[-1]}"], timeout=60).returncode == 0
    assert "__main__" not in PRELOAD


@needs_fork_server
def test_workers_are_forks_of_a_server_that_has_imported_what_they_need():
    probe = f"(__import__('os').getppid(), [n for n in {list(PRELOAD)!r} if n not in __import__('sys').modules])"
    with ProcessPoolExecutor(2, mp_context=worker_context()) as pool:
        parent, missing = pool.submit(eval, probe).result(timeout=60)
    assert parent == _fork_server_pid() and parent != os.getpid()
    assert missing == []


def test_what_the_workers_import_leaves_out_the_migrations():
    """Workers never migrate: Alembic (an eighth of the fork server's imports) is imported
    where a migration is read or run, not with ``digest.db``."""
    probe = ("import importlib, sys\n"
             f"for name in {list(PRELOAD[1:-1])!r}:\n    importlib.import_module(name)\n"
             "print(sorted(n for n in sys.modules if n.split('.')[0] == 'alembic'))")
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert (imported.returncode, imported.stdout.strip()) == (0, "[]"), imported.stderr


#: Whether an object is one the cycle collector walks (``gc.get_objects`` leaves out the
#: permanent generation, where ``gc.freeze`` puts them), for an ``eval`` in a worker.
_WALKED = "(lambda target: any(o is target for o in __import__('gc').get_objects()))"


def _models_walked() -> str:
    return f"{_WALKED}(__import__('sys').modules['digest.models'].__dict__)"


@needs_fork_server
def test_workers_find_what_the_server_imported_frozen_and_the_collector_on():
    # A full collection walked the ~130,000 objects every worker inherits from the server
    # (65-90 ms of CPU each; a send worker ran one every 30 batches or so): they are frozen.
    # The probe can tell: here, where nothing is frozen, the same module's namespace is walked.
    import digest.models  # noqa: F401

    assert eval(_models_walked()) is True
    probe = f"(__import__('gc').isenabled(), __import__('gc').get_freeze_count(), {_models_walked()})"
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        enabled, frozen, walked = pool.submit(eval, probe).result(timeout=60)
    assert enabled is True and walked is False
    assert frozen > 100_000  # what PRELOAD imports: 133,066 objects, counted on 6 Dec 2026
    assert PRELOAD[-1] == "digest.deliver.fork_server_ready"


def test_render_and_send_workers_freeze_what_their_start_made_and_collect_less_often(make_settings, tmp_path):
    # Each worker's own start (the renderer, the database engine and provider) lives as long
    # as the worker: frozen last thing in each initializer. Then the young generation is
    # collected every 100,000 allocations, not 700: a batch's objects die young.
    from digest.deliver.plan import bodies
    from digest.deliver.runners import processes

    settings = make_settings(DIGEST_PROVIDER="outbox")
    renderer = f"{_WALKED}(__import__('digest.deliver.plan.bodies', fromlist=['x'])._worker_renderer)"
    sender = f"{_WALKED}(__import__('digest.deliver.runners.processes', fromlist=['x'])._worker['sender'])"
    threshold = "__import__('gc').get_threshold()"
    with ProcessPoolExecutor(1, mp_context=worker_context(), initializer=bodies._start_worker,
                             initargs=(settings.config, workers.owner())) as pool:
        assert pool.submit(eval, renderer).result(timeout=60) is False
        assert pool.submit(eval, threshold).result(timeout=60) == (100_000, 10, 10)
    stop = worker_context().Event()
    with ProcessPoolExecutor(1, mp_context=worker_context(), initializer=processes._start_worker,
                             initargs=(settings, stop, workers.owner())) as pool:
        assert pool.submit(eval, sender).result(timeout=60) is False
        assert pool.submit(eval, threshold).result(timeout=60) == (100_000, 10, 10)
    # Without the freeze the same probe finds them walked, at Python's default threshold
    # (the probes can fail).
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        assert pool.submit(eval, f"{_WALKED}(__import__('types').SimpleNamespace())").result(timeout=60) is True
        assert pool.submit(eval, threshold).result(timeout=60) == (700, 10, 10)


@needs_fork_server
def test_a_sigterm_to_every_process_does_not_break_the_pools():
    # A dyno stopping sends SIGTERM to every process: the fork server ignores it (each
    # pool learns its workers' exits through it), as the workers do.
    with ProcessPoolExecutor(2, mp_context=worker_context()) as pool:
        assert pool.submit(eval, "1 + 1").result(timeout=60) == 2
        server = _fork_server_pid()
        os.kill(server, signal.SIGTERM)
        time.sleep(0.2)  # (a dead server would break the pool: the futures below would fail)
        assert [f.result(timeout=60) for f in [pool.submit(eval, "2 + 2") for _ in range(6)]] == [4] * 6
    assert _fork_server_pid() == server


@needs_fork_server
def test_stopping_the_fork_server_counts_its_workers_cpu():
    # What the benchmark relies on: a worker's CPU time reaches RUSAGE_CHILDREN here once
    # the fork server (its parent) is stopped and reaped.
    burn = "sum(i * i for i in range(3_000_000))"
    own = "(lambda r: r.ru_utime + r.ru_stime)(__import__('resource').getrusage(__import__('resource').RUSAGE_SELF))"
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        pool.submit(eval, burn).result(timeout=60)
        worker_cpu = pool.submit(eval, own).result(timeout=60)
    before = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
    stop_fork_server()
    after = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
    assert _fork_server_pid() is None
    assert worker_cpu > 0.05 and after - before >= worker_cpu - 0.02
    # The next pool starts a new server.
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        assert pool.submit(eval, "__import__('os').getppid()").result(timeout=60) == _fork_server_pid()


# ------------------------------------------------------------------ one edition, both pools


def _body_fingerprints(settings) -> set[str]:
    from digest.models import RenderedBody
    from fakes.edition_seed import read

    return {fingerprint for (fingerprint,) in read(settings, select(RenderedBody.fingerprint))}


def _claimants(settings) -> set[str]:
    from digest.models import Batch
    from fakes.edition_seed import read

    return {claimant for (claimant,) in read(settings, select(Batch.claimed_by))}


def test_an_editions_render_and_send_pools_share_the_context_and_send_the_same(make_settings, databases, tmp_path,
                                                                             monkeypatch):
    from fakes.edition_seed import outbox_recipients, seed_edition

    from digest.deliver.plan import bodies
    from digest.deliver.runners import processes
    from digest.deliver.edition import send_edition
    from digest.deliver.providers.factory import make_provider
    from digest.runtime import Runtime

    contexts = []

    class RecordingPool(ProcessPoolExecutor):
        def __init__(self, *args, mp_context=None, **kwargs):
            contexts.append(mp_context)
            super().__init__(*args, mp_context=mp_context, **kwargs)

    def settings_for(name: str, url: str, **env: str):
        return make_settings(url, DIGEST_PROVIDER="outbox", DIGEST_OUTBOX=str(tmp_path / f"outbox-{name}"),
                             DIGEST_SEND_CONCURRENCY="2", DIGEST_READERS_PER_SEND_PROCESS="1", **env)

    pooled_url = databases.empty("pooled")
    pooled = settings_for("pooled", pooled_url, DIGEST_RENDER_PROCESSES="2", DIGEST_SEND_PROCESSES="2")
    emails = seed_edition(pooled, 300)
    # The same content, to the byte (SQLite, then PostgreSQL).
    inline = settings_for("inline", databases.copy(pooled_url, "inline"), DIGEST_RENDER_PROCESSES="0",
                          DIGEST_SEND_PROCESSES="1")

    monkeypatch.setattr(bodies, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(processes, "ProcessPoolExecutor", RecordingPool)
    now = datetime.now(timezone.utc)
    summaries = {}
    for name, settings in (("pooled", pooled), ("inline", inline)):
        runtime = Runtime.open(settings)
        try:
            summaries[name] = send_edition(runtime, make_provider(settings), now.date(), now=now)
        finally:
            runtime.close()

    # Two pools in the pooled run (renders, sends), none in the other; both from the one context.
    assert len(contexts) == 2 and all(c is worker_context() for c in contexts)
    if workers.uses_fork_server():
        assert {c.get_start_method() for c in contexts} == {"forkserver"}
    for name, settings in (("pooled", pooled), ("inline", inline)):
        assert summaries[name].sent == 300 and summaries[name].bodies_rendered == 3
        assert outbox_recipients(Path(settings.outbox_dir)) == Counter({e.lower(): 1 for e in emails})
    assert summaries["pooled"].render_seconds > 0
    # The renders' CPU time comes back from the worker processes too (a body costs CPU).
    assert summaries["pooled"].render_cpu_seconds > 0 and summaries["inline"].render_cpu_seconds > 0
    # The pooled run's batches were claimed by the send workers, not by this process.
    assert str(os.getpid()) not in {c.rsplit(":", 2)[1] for c in _claimants(pooled)}
    # The same bodies, rendered in worker processes or here.
    assert _body_fingerprints(pooled) == _body_fingerprints(inline) and len(_body_fingerprints(pooled)) == 3


@needs_fork_server
def test_the_fork_server_can_be_started_ahead_of_the_first_pool():
    workers.start_fork_server()  # what a big edition does first: the imports overlap planning
    pid = _fork_server_pid()
    assert pid is not None
    workers.start_fork_server()  # already running: the same one
    assert _fork_server_pid() == pid
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        assert pool.submit(os.getppid).result() == pid  # the first pool's worker is its fork
