"""Batches sent from worker processes (``DIGEST_SEND_PROCESSES``), while planning is
still writing them.

The send path is Python work for every recipient (signed links, the provider's request),
and one process runs Python on one core at a time: a big edition's send stage used one
core of two, and the sending waited for the whole plan. Here a feeder thread runs the
same loop as every runner (:func:`.loop.drive`), handing pending batches, in chunks, to
worker processes as soon as planning has committed them. Each worker sends its chunk
with ``DIGEST_SEND_CONCURRENCY`` threads (:func:`.in_process.in_process_runner`): every
batch is still claimed, sent and settled alone by
:func:`~digest.deliver.batch.send_batch`, under the claiming process's own identity, so
a worker that dies leaves its batch ``sending`` under a dead claimant, which the next run
marks ambiguous.

The workers build their provider from settings (``make_provider``), so this runner is
only chosen for the configured provider (:func:`.make_runner`). They ignore SIGINT and
SIGTERM: the parent decides when to stop. It stops handing out chunks, cancels those not
started, and tells the workers (a shared event) to claim nothing more of the chunks they
run; what they hold finishes and settles. A worker whose pool's process is gone (``digest send``
killed) stops the same way, then exits (:func:`~digest.deliver.worker_processes.leave_with_owner`).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator, Sequence

from ...runtime import Runtime
from ...settings import Settings
from ..batch import BatchOutcome, Sender
from ..worker_processes import freeze_started_heap, leave_with_owner, owner, start_fork_server, worker_context
from .base import Runner
from .batches import Batches, GivenBatches
from .in_process import in_process_runner
from .loop import drive

log = logging.getLogger(__name__)

#: Batches per chunk handed to a worker process, per sending thread in it.
CHUNK_PER_THREAD = 4

_worker: dict = {}


def _start_worker(settings: Settings, stop, started_by: tuple[int, str | None]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from ..providers.factory import make_provider

    runtime = Runtime.open(settings, migrate=False)
    busy = threading.Event()
    orphaned = leave_with_owner(started_by, busy=busy)
    _worker.update(sender=Sender.open(runtime, make_provider(settings)), threads=settings.send_concurrency,
                   stop=stop, orphaned=orphaned, busy=busy)
    freeze_started_heap()


def _send_chunk(batch_ids: Sequence[int]) -> list[BatchOutcome]:
    """In a worker: these batches, with the parent's stop rule (and its death) checked before each claim."""
    stop, orphaned = _worker["stop"], _worker["orphaned"]
    _worker["busy"].set()
    try:
        runner = in_process_runner(_worker["sender"], _worker["threads"])
        runner.start(GivenBatches(batch_ids, should_stop=lambda: stop.is_set() or orphaned.is_set()))
        return list(runner.outcomes())
    finally:
        _worker["busy"].clear()


class ProcessRunner(Runner):
    """Feeds pending batches to worker processes from a background thread, from
    :meth:`start` (before planning) on; :meth:`outcomes` yields each batch's outcome on
    the calling thread until everything handed out has settled, and re-raises what
    stopped the feeder."""

    overlaps_planning = True

    def __init__(self, sender: Sender, *, processes: int) -> None:
        self.sender = sender
        self.processes = processes
        self.chunk_size = max(1, CHUNK_PER_THREAD * sender.runtime.settings.send_concurrency)
        self._results: queue.Queue = queue.Queue()  # BatchOutcome, then _DONE (or an exception)
        self._thread: threading.Thread | None = None

    def start(self, batches: Batches) -> None:
        start_fork_server()  # its imports overlap planning's start, not the first batch's
        self._thread = threading.Thread(target=self._feed, args=(batches,), name="digest-send-feeder", daemon=True)
        self._thread.start()

    def outcomes(self) -> Iterator[BatchOutcome]:
        while True:
            item = self._results.get()
            if item is _DONE:
                self._thread.join()
                return
            if isinstance(item, BaseException):
                self._thread.join()
                raise item
            yield item

    def _feed(self, batches: Batches) -> None:
        try:
            context = worker_context()
            stop = context.Event()  # set when the parent stops: workers claim nothing more
            with ProcessPoolExecutor(self.processes, mp_context=context, initializer=_start_worker,
                                     initargs=(self.sender.runtime.settings, stop, owner())) as pool:
                # Every worker is started now, while planning writes the first batches: a pool
                # starts a worker only when work is submitted, and a worker's start (a fork,
                # opening the database and the provider: about half a second) came between
                # the first batch's commit and its request.
                for _ in range(self.processes):
                    pool.submit(int)
                for outcome in drive(batches, lambda chunk: pool.submit(_send_chunk, chunk),
                                     capacity=2 * self.processes, chunk_size=self.chunk_size, on_stopping=stop.set):
                    self._results.put(outcome)
            if batches.should_stop():
                log.info("stopped handing out batches: shutdown requested; the rest stay pending")
            self._results.put(_DONE)
        except BaseException as exc:  # handed to the caller's thread by outcomes()
            self._results.put(exc)


_DONE = object()
