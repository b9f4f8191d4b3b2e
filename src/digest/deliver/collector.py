"""How often Python's cycle collector runs while an edition is planned and sent.

Planning and sending allocate a few objects per reader (rows read, each recipient's
values, headers and request parts), nearly all freed by reference counting as soon as the
reader's batch is done. With the default young-generation threshold (700 allocations) the
collector ran every few dozen readers and walked each batch's live objects again and again
on their way to the older generations: 2.5 us of the planner's 12 a reader, 1-2 us of a
send worker's per reader (a batch of 380 readers: 3.1-3.5 against 2.6-2.8 ms to make its
tokens and headers; benchmarks/RESULTS.md, "The cycle collector in the workers"). At
:data:`YOUNG_THRESHOLD` a batch's objects are mostly gone before a collection comes.
Cycles are still collected.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

#: The young generation's threshold while planning, and in render and send workers
#: (Python's default: 700).
YOUNG_THRESHOLD = 100_000


def collect_less() -> None:
    """This process's young-generation threshold raised to :data:`YOUNG_THRESHOLD` for
    good (a worker's; left alone when it is higher, or 0: collection is off)."""
    threshold = gc.get_threshold()
    if threshold[0] != 0 and threshold[0] < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, *threshold[1:])


@contextmanager
def fewer_collections() -> Iterator[None]:
    """:func:`collect_less` for the block, then the threshold put back. Process-wide, so
    other threads collect less often meanwhile: at most that many more objects wait for a
    collection."""
    threshold = gc.get_threshold()
    collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
