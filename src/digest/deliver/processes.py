"""Sending an edition's batches from several processes (``DIGEST_SEND_PROCESSES``).

The send path is Python work for every recipient (signed links, the provider's request),
and one process runs Python on one core at a time: a big edition's send stage used one
core of two. Here worker processes each send chunks of the edition's pending batches,
each with ``DIGEST_SEND_CONCURRENCY`` threads, through the same
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
import multiprocessing
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Callable, Sequence

from ..settings import Settings
from .sending import BatchOutcome

log = logging.getLogger(__name__)

#: Batches per chunk handed to a worker process, per sending thread in it.
CHUNK_PER_THREAD = 4

_worker: dict = {}


def _start_worker(settings: Settings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from ..runtime import Runtime
    from .factory import make_provider
    from .ledger import worker_identity
    from .sending import make_link_maker

    runtime = Runtime.open(settings, migrate=False)
    _worker.update(runtime=runtime, provider=make_provider(settings), links=make_link_maker(runtime),
                   worker_id=worker_identity(), threads=settings.send_concurrency)


def _send_chunk(batch_ids: Sequence[int]) -> list[BatchOutcome]:
    from .concurrent import send_batch_ids

    return send_batch_ids(_worker["runtime"], _worker["provider"], batch_ids, worker_id=_worker["worker_id"],
                          workers=_worker["threads"], links=_worker["links"])


def send_in_processes(
    settings: Settings,
    batch_ids: Sequence[int],
    *,
    processes: int,
    on_batch: Callable[[BatchOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[BatchOutcome]:
    """Send ``batch_ids`` from ``processes`` worker processes; ``on_batch`` is called on
    this thread for each batch as its chunk comes back."""
    size = max(1, CHUNK_PER_THREAD * settings.send_concurrency)
    chunks = iter([list(batch_ids[i:i + size]) for i in range(0, len(batch_ids), size)])
    outcomes: list[BatchOutcome] = []
    in_flight: set[Future] = set()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(settings,)) as pool:

        def start_next() -> None:
            if should_stop is not None and should_stop():
                return
            chunk = next(chunks, None)
            if chunk is not None:
                in_flight.add(pool.submit(_send_chunk, chunk))

        try:
            for _ in range(2 * processes):
                start_next()
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    in_flight.discard(future)
                    for outcome in future.result():
                        outcomes.append(outcome)
                        if on_batch is not None:
                            on_batch(outcome)
                    start_next()
        except BaseException:
            # Ctrl-C, or a worker lost: chunks not started stay pending; those running
            # finish and settle (the workers ignore SIGINT) before this returns.
            for future in in_flight:
                future.cancel()
            raise
    if should_stop is not None and should_stop():
        log.info("stopped handing out batches: shutdown requested; the rest stay pending")
    return outcomes
