"""Sending an edition's batches from worker processes (``DIGEST_SEND_PROCESSES``), while
planning is still writing them.

The send path is Python work for every recipient (signed links, the provider's request),
and one process runs Python on one core at a time: a big edition's send stage used one
core of two, and the sending waited for the whole plan. Here a feeder thread hands the
edition's pending batches, in chunks, to worker processes as soon as planning has
committed them (a body's full batches are written while planning goes on), until
planning has finished and nothing is pending. Each worker sends its chunk with
``DIGEST_SEND_CONCURRENCY`` threads through the same
:func:`~digest.deliver.sending.send_batch`: every batch is still claimed, sent and
settled alone, under the claiming process's own identity, so a worker that dies leaves
its batch ``sending`` under a dead claimant, which the next run marks ambiguous.

The workers build their provider from settings (``make_provider``), so this is only used
for the configured provider. They ignore SIGINT and SIGTERM: the parent decides when to
stop (it stops handing out chunks, and cancels those not started; chunks already running
finish and settle).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Callable, Sequence

from ..runtime import Runtime
from ..settings import Settings
from .ledger import pending_batch_ids
from .sending import BatchOutcome
from .workers import start_fork_server, worker_context

log = logging.getLogger(__name__)

#: Batches per chunk handed to a worker process, per sending thread in it.
CHUNK_PER_THREAD = 4
#: Seconds between looks at the ledger for new pending batches while planning goes on.
POLL_SECONDS = 0.2

_worker: dict = {}


def _start_worker(settings: Settings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from .providers.factory import make_provider
    from .ledger import worker_identity
    from .sending import make_link_maker

    runtime = Runtime.open(settings, migrate=False)
    _worker.update(runtime=runtime, provider=make_provider(settings), links=make_link_maker(runtime),
                   worker_id=worker_identity(), threads=settings.send_concurrency)


def _send_chunk(batch_ids: Sequence[int]) -> list[BatchOutcome]:
    from .concurrent import send_batch_ids

    return send_batch_ids(_worker["runtime"], _worker["provider"], batch_ids, worker_id=_worker["worker_id"],
                          workers=_worker["threads"], links=_worker["links"])


class ProcessSender:
    """Feeds an edition's pending batches to worker processes from a background thread.

    ``start()`` before planning, ``planning_finished()`` after it, then :meth:`outcomes`
    yields each batch's outcome (on the calling thread) until everything handed out has
    settled; it re-raises what stopped the feeder.
    """

    def __init__(self, runtime: Runtime, edition_id: int, *, processes: int,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.runtime = runtime
        self.edition_id = edition_id
        self.processes = processes
        self.should_stop = should_stop or (lambda: False)
        self.chunk_size = max(1, CHUNK_PER_THREAD * runtime.settings.send_concurrency)
        self._handed: set[int] = set()  # batches given to workers so far
        self._handed_lock = threading.Lock()
        self._planned = threading.Event()
        self._abort = threading.Event()
        self._results: queue.Queue = queue.Queue()  # BatchOutcome, then _DONE (or an exception)
        self._thread = threading.Thread(target=self._feed, name="digest-send-feeder", daemon=True)

    def start(self) -> None:
        start_fork_server()  # its imports overlap planning's start, not the first batch's
        self._thread.start()

    def handed_out(self) -> frozenset[int]:
        """The batches given to workers so far (this run's, whatever their state now)."""
        with self._handed_lock:
            return frozenset(self._handed)

    def planning_finished(self) -> None:
        self._planned.set()

    def abort(self) -> None:
        """Hand out nothing more (planning failed); then drain :meth:`outcomes`."""
        self._abort.set()
        self._planned.set()

    def outcomes(self):
        while True:
            item = self._results.get()
            if item is _DONE:
                self._thread.join()
                return
            if isinstance(item, BaseException):
                self._thread.join()
                raise item
            yield item

    def _pending_ids(self) -> list[int]:
        with self.runtime.sessions() as session:
            return [b for b in pending_batch_ids(session, self.edition_id) if b not in self._handed]

    def _feed(self) -> None:
        in_flight: set[Future] = set()
        try:
            with ProcessPoolExecutor(self.processes, mp_context=worker_context(),
                                     initializer=_start_worker, initargs=(self.runtime.settings,)) as pool:
                try:
                    while True:
                        planned = self._planned.is_set()  # read first: the query below then sees every batch
                        stopping = self._abort.is_set() or self.should_stop()
                        waiting: list[int] = []
                        if not stopping and len(in_flight) < 2 * self.processes:
                            waiting = self._pending_ids()
                            while waiting and len(in_flight) < 2 * self.processes:
                                chunk, waiting = waiting[:self.chunk_size], waiting[self.chunk_size:]
                                with self._handed_lock:
                                    self._handed.update(chunk)
                                in_flight.add(pool.submit(_send_chunk, chunk))
                        if not in_flight and (stopping or (planned and not waiting)):
                            break
                        if not in_flight:  # planning has not written the next batch yet
                            self._planned.wait(POLL_SECONDS)
                            continue
                        done, _ = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                        for future in done:
                            in_flight.discard(future)
                            for outcome in future.result():
                                if outcome.halt:  # the provider cannot go on: hand out nothing more
                                    self._abort.set()
                                self._results.put(outcome)
                except BaseException:
                    for future in in_flight:  # not started: they stay pending
                        future.cancel()
                    raise
            if self.should_stop():
                log.info("stopped handing out batches: shutdown requested; the rest stay pending")
            self._results.put(_DONE)
        except BaseException as exc:  # handed to the caller's thread by outcomes()
            self._results.put(exc)


_DONE = object()
