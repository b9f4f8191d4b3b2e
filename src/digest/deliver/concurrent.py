"""Sending an edition's pending batches several at a time (``DIGEST_SEND_CONCURRENCY``).

Each batch is still claimed, sent and settled by :func:`~digest.deliver.sending.send_batch`
on its own sessions, so the ledger's guarantees are those of one batch at a time; threads
only overlap the waits (the provider's answer, the database's commits). At most twice
``workers`` batches are queued ahead, so memory stays flat and a stop request (SIGTERM)
leaves everything not yet started pending for the next run: batches in flight finish and
settle before this returns. A provider that halts (refused key, unwritable outbox) stops
the starting of batches the same way.
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Sequence

from ..links import LinkMaker
from ..runtime import Runtime
from .ledger import pending_batch_ids
from .providers.base import Provider
from .sending import BatchOutcome, make_link_maker, send_batch, send_pending_batches

log = logging.getLogger(__name__)


def send_batches(
    runtime: Runtime,
    provider: Provider,
    edition_id: int,
    *,
    worker_id: str,
    workers: int = 1,
    links: LinkMaker | None = None,
    on_batch: Callable[[BatchOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[BatchOutcome]:
    """Every pending batch of an edition, ``workers`` at a time (1: one after another,
    in batch order). ``on_batch`` is called on this thread as each batch settles."""
    if workers <= 1:
        return send_pending_batches(runtime, provider, edition_id, worker_id=worker_id, links=links,
                                    on_batch=on_batch, should_stop=should_stop)
    with runtime.sessions() as session:
        batch_ids = pending_batch_ids(session, edition_id)
    return send_batch_ids(runtime, provider, batch_ids, worker_id=worker_id, workers=workers, links=links,
                          on_batch=on_batch, should_stop=should_stop)


def send_batch_ids(
    runtime: Runtime,
    provider: Provider,
    batch_ids: Sequence[int],
    *,
    worker_id: str,
    workers: int = 1,
    links: LinkMaker | None = None,
    on_batch: Callable[[BatchOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[BatchOutcome]:
    """These batches, ``workers`` at a time (each claimed, sent and settled alone)."""
    links = links or make_link_maker(runtime)
    remaining = iter(batch_ids)
    outcomes: list[BatchOutcome] = []
    in_flight: set[Future] = set()

    with ThreadPoolExecutor(workers, thread_name_prefix="digest-send") as pool:

        halted: list[str] = []  # a provider that cannot go on stops new batches, like a stop request

        def start_next() -> None:
            if halted or (should_stop is not None and should_stop()):
                return
            batch_id = next(remaining, None)
            if batch_id is not None:
                in_flight.add(pool.submit(send_batch, runtime, provider, batch_id, worker_id=worker_id, links=links))

        for _ in range(2 * workers):
            start_next()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                in_flight.discard(future)
                outcome = future.result()  # send_batch records every failure; this re-raises only the fatal
                outcomes.append(outcome)
                if outcome.halt:
                    halted.append(outcome.halt)
                if on_batch is not None:
                    on_batch(outcome)
                start_next()
        if should_stop is not None and should_stop():
            log.info("stopped starting batches: shutdown requested; the rest stay pending")
    return outcomes
