"""How an edition's worker processes are started: the one multiprocessing context of
the render pool (:mod:`.plan.bodies`) and the send pool (:mod:`.runners.processes`).

Why not ``spawn``: a spawned worker is a new interpreter that imports SQLAlchemy,
psycopg, premailer, the renderer, sendgrid... 0.6 to 1.4 s of CPU per worker, and
imports the parent's ``__main__`` again. With two render and two send workers on two
cores, that is several core-seconds of a big edition.

So, where the platform has it (Linux), :func:`worker_context` is ``forkserver``: the
first pool a process starts also starts a fork server, a fresh single-threaded
interpreter that imports :data:`PRELOAD` once; every worker, of either pool, is then a
fork of it and finds those modules loaded. Elsewhere it is ``spawn``, as before (macOS
has a fork server too, but forking after its system libraries are loaded is not safe).

Not plain ``fork``: the planning process has threads (the ledger writer, the send
feeder) and open database connections, which a forked child would inherit half-used.
The fork server has only imported modules: no threads, no connections.

What a fork server changes, and why it is fine here:

* It starts with the parent's environment and ``sys.path`` *as they are then*, and lives
  as long as the process that started it (it exits when that process does; in a test
  run, when the pytest or pytest-xdist worker process does), so later changes to the
  parent's environment do not reach new workers. Workers read nothing from the
  environment: settings and the publication config reach them as pickled initializer
  arguments, built by the parent when the pool starts. (``sys.path``, the working
  directory and the main module's path are sent with every new worker, as with spawn.)
* ``__main__`` is not preloaded: the server never runs the parent's script. Each worker
  still imports it as ``__mp_main__``, as a spawned one does (not a package's
  ``__main__``, as in ``python -m pytest``), but finds loaded what it imports: for the
  ``digest`` command's script, :mod:`digest.cli`, which is preloaded too.
* A worker whose pool's process is gone (``digest send`` killed with SIGKILL) would wait
  forever for work that never comes (and keep the fork server alive: every worker holds
  the server's "alive" pipe): :func:`leave_with_owner` notices, lets what it holds
  finish, and exits; the fork server follows once its last worker has.
* Signals: workers ignore SIGINT and SIGTERM (their pools' initializers); the parent
  decides when to stop. The fork server ignores SIGINT itself, and SIGTERM because
  the first module it preloads, :mod:`.fork_server`, says so. A SIGTERM sent to every process (a dyno
  stopping) would otherwise kill it; each pool learns its workers' exits through the
  server, so both pools would break while their workers, ignoring SIGTERM, run on
  (``digest send`` then hung instead of stopping between batches). It still exits with
  the process that started it.
* Logging: the server is a fresh interpreter, so, like a spawned worker, a worker has
  none of the parent's logging configuration (warnings reach stderr through logging's
  last resort); what modules set up when imported (the SendGrid client's logger held at
  INFO) is done in the server and inherited. Its stderr is the parent's at the moment
  it started.
* CPU accounting: workers are the fork server's children, not the parent's, so their
  CPU time reaches the parent's ``RUSAGE_CHILDREN`` only once the fork server has exited
  and been reaped: :func:`stop_fork_server`.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
import time
from multiprocessing.context import BaseContext

import psutil

from .collector import collect_less

#: Imported once by the fork server: the worker modules and everything a render or a
#: send worker imports (a name that does not import is skipped by the server; a test
#: checks they all do).
PRELOAD: tuple[str, ...] = (
    "digest.deliver.fork_server",  # the server ignores SIGTERM (see there); first, on purpose
    "digest.deliver.worker_processes",
    # render workers
    "digest.deliver.plan.bodies",
    "digest.render",
    "digest.render.renderer",
    "digest.content",
    # send workers
    "digest.deliver.runners.processes",
    "digest.deliver.runners.in_process",
    "digest.deliver.batch",
    "digest.deliver.recipients",
    "digest.deliver.ledger",
    "digest.deliver.providers.factory",
    "digest.deliver.providers.outbox",
    "digest.deliver.providers.sendgrid",
    "digest.deliver.providers.smtp",
    "digest.runtime",
    "digest.settings",
    "digest.db",
    "digest.models",
    # what the ``digest`` command's script, every worker's main module, imports
    "digest.cli",
    # what opening the database imports (lazily, in the parent)
    "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "digest.deliver.fork_server_ready",  # freezes what the server imported (see there); last, on purpose
)


def uses_fork_server() -> bool:
    return sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods()


def worker_context() -> BaseContext:
    """The context every worker pool is created with: ``forkserver`` preloading
    :data:`PRELOAD` on Linux, ``spawn`` elsewhere.

    The preload list takes effect when the fork server starts (the first worker of the
    process); setting it again afterwards changes nothing. It replaces any list set
    before: the fork server is the process's, and these pools are its only users here.
    """
    if not uses_fork_server():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def start_fork_server() -> None:
    """Starts this process's fork server now, if it has none, without waiting for it: it
    imports :data:`PRELOAD` (most of a second) on the other core while this process goes on
    planning, so the first pool's workers do not wait for those imports."""
    if not uses_fork_server():
        return
    from multiprocessing import forkserver

    worker_context()  # sets the preload list
    forkserver.ensure_running()


def stop_fork_server() -> None:
    """Stops this process's fork server, if it started one, and reaps it: the CPU time of
    every worker it forked (and its own imports) then counts in this process's
    ``RUSAGE_CHILDREN``. Waits until no worker is left, so call it once every pool has
    shut down. The next pool starts a new server. For measurements (the benchmark)."""
    if not uses_fork_server():
        return
    from multiprocessing import forkserver

    # Private (CPython's own tests use it): were it gone, this raises rather than letting
    # a measurement silently leave the workers out.
    forkserver._forkserver._stop()


def freeze_started_heap() -> None:
    """Called last by each worker's initializer: what the worker's start made (its
    database engine, provider, renderer) lives as long as the worker, so it joins what the
    fork server imported in the collector's permanent generation
    (:mod:`.fork_server_ready`), and the collector walks only what the worker's renders
    and batches make. Where workers are spawned (no fork server), this freezes their
    imports too. The collector then runs less often in it (:func:`.collector.collect_less`):
    its batches' and renders' objects die young."""
    gc.freeze()
    collect_less()


#: Seconds between a worker's looks at whether the process that started its pool is still there.
OWNER_POLL_SECONDS = 0.25


def owner() -> tuple[int, float]:
    """This process, as its pool's workers watch it: pid and start time (to tell it from a
    later process that reuses the pid). Passed to the workers' initializers."""
    return os.getpid(), psutil.Process().create_time()


def _running(pid: int, started: float) -> bool:
    """Whether the process ``(pid, started)`` is still there (a zombie is gone)."""
    try:
        process = psutil.Process(pid)
        return process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def leave_with_owner(started_by: tuple[int, float], *, busy: threading.Event | None = None) -> threading.Event:
    """In a worker process: watch (on a daemon thread) the process that started the pool,
    and return an event set once it is gone (``digest send`` killed with SIGKILL). Not the
    worker's parent: that is the fork server, which lives on as long as any worker holds
    its end of the server's pipe. Nobody will hand the worker work any more: once ``busy``
    is clear (what it holds has finished; the caller checks the returned event before each
    claim), it exits."""
    orphaned = threading.Event()

    def watch() -> None:
        while _running(*started_by):
            time.sleep(OWNER_POLL_SECONDS)
        orphaned.set()
        while busy is not None and busy.is_set():
            time.sleep(0.05)
        os._exit(0)

    threading.Thread(target=watch, name="digest-owner-watch", daemon=True).start()
    return orphaned
