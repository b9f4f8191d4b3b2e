"""The one loop that drives batches in this process, whatever runs each one.

Batches are handed out while there is room (``capacity`` units of work in flight, each
``chunk_size`` batches), read again from the source while planning goes on, until the
source is exhausted or :meth:`~.batches.Batches.stopping` says stop, or a batch comes
back with ``halt`` (a provider that cannot go on, a guard that holds sending). Then
nothing more is started; what is in flight finishes and settles before the loop ends.
Outcomes are yielded on the caller's thread as each unit of work completes.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Callable, Iterator, Sequence

from ..batch import BatchOutcome
from .batches import Batches

#: Seconds between looks at the ledger for new pending batches while planning goes on.
POLL_SECONDS = 0.2
#: ... until the first batch is handed out: the first request waits for that look (on
#: average half of it), later batches are queued behind those in flight anyway.
FIRST_POLL_SECONDS = 0.05


def drive(batches: Batches, submit: Callable[[Sequence[int]], "Future[list[BatchOutcome]]"], *, capacity: int,
          chunk_size: int = 1, on_stopping: Callable[[], None] | None = None) -> Iterator[BatchOutcome]:
    in_flight: set[Future] = set()
    waiting: list[int] = []  # taken from the source, not handed out yet
    final = False  # the source was complete before the last read: nothing more will come
    halted = False
    stop_told = False
    handed_out = False
    try:
        while True:
            stopping = halted or batches.stopping()
            if stopping and on_stopping is not None and not stop_told:
                on_stopping()
                stop_told = True
            while not stopping and len(in_flight) < capacity:
                if not waiting:
                    if final:
                        break
                    final = batches.complete()  # read first: the take below then sees every batch
                    waiting = batches.take()
                    if not waiting:
                        break
                chunk, waiting = waiting[:chunk_size], waiting[chunk_size:]
                in_flight.add(submit(chunk))
                handed_out = True
                stopping = batches.stopping()
            if not in_flight:
                if stopping or (final and not waiting):
                    return
                # Planning has not written the next batch yet.
                batches.wait_for_more(POLL_SECONDS if handed_out else FIRST_POLL_SECONDS)
                continue
            done, _ = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                in_flight.discard(future)
                for outcome in future.result():
                    halted = halted or bool(outcome.halt)
                    yield outcome
    finally:
        for future in in_flight:  # only on an error: not started, so they stay pending
            future.cancel()
