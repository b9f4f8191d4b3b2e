"""Batches sent in this process: one after another (:class:`InlineRunner`, in batch
order), or ``DIGEST_SEND_CONCURRENCY`` at a time on threads (:class:`ThreadRunner`).

Threads only overlap the waits (the provider's answer, the database's commits): each
batch is still claimed, sent and settled alone by :func:`~digest.deliver.batch.send_batch`,
on its thread's database connection, kept from batch to batch until the runner is done
(:class:`~digest.deliver.ledger.connection.ThreadLedgers`).
At most twice ``threads`` batches are queued ahead, so memory stays flat and a stop
leaves everything not yet started pending for the next run.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator, Sequence

from ..batch import BatchOutcome, Sender, send_batch
from ..ledger.connection import ThreadLedgers
from .base import Runner
from .loop import drive


class InlineRunner(Runner):
    """One batch at a time, on the calling thread."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    def outcomes(self) -> Iterator[BatchOutcome]:
        ledgers = ThreadLedgers(self.sender.runtime.engine)

        def submit(chunk: Sequence[int]) -> Future:
            done: Future = Future()
            done.set_result(_send_each(self.sender, ledgers, chunk))
            return done

        try:
            yield from drive(self.batches, submit, capacity=1)
        finally:
            ledgers.close()


class ThreadRunner(Runner):
    """``threads`` batches at a time; outcomes reach the caller's thread as each settles."""

    def __init__(self, sender: Sender, threads: int) -> None:
        self.sender = sender
        self.threads = threads

    def outcomes(self) -> Iterator[BatchOutcome]:
        ledgers = ThreadLedgers(self.sender.runtime.engine)
        try:
            with ThreadPoolExecutor(self.threads, thread_name_prefix="digest-send") as pool:
                yield from drive(self.batches, lambda chunk: pool.submit(_send_each, self.sender, ledgers, chunk),
                                 capacity=2 * self.threads)
        finally:  # every thread is done (the pool's exit waits for them)
            ledgers.close()


def _send_each(sender: Sender, ledgers: ThreadLedgers, batch_ids: Sequence[int]) -> list[BatchOutcome]:
    """On a sending thread: each batch on the thread's own database connection."""
    ledger = ledgers.for_this_thread()
    return [send_batch(sender, batch_id, ledger) for batch_id in batch_ids]


def in_process_runner(sender: Sender, threads: int):
    """One after another for one thread, else a thread pool."""
    return ThreadRunner(sender, threads) if threads > 1 else InlineRunner(sender)
