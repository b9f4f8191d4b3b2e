"""Where a runner finds its batches, each handed out once: the ledger's pending batches
(of one edition, or of the recent editions for the worker's tick), or a given list (a
chunk handed to a worker process).

The stop rule lives here, the same for every runner: once :meth:`stopping` is true
(the SIGTERM flag, planning failed, or the process that handed out the work is gone),
no further batch is claimed; batches already claimed finish and settle.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence

from sqlalchemy import select

from ...models import Batch, BatchStatus
from ...runtime import Runtime
from ..run import never


class Batches:
    """The common part: what was handed out, the stop flag, and whether more may come."""

    def __init__(self, *, planning_done: bool = True, should_stop: Callable[[], bool] | None = None) -> None:
        self.should_stop = should_stop or never
        self._planned = threading.Event()
        if planning_done:
            self._planned.set()
        self._aborted = threading.Event()
        self._handed: set[int] = set()
        self._lock = threading.Lock()

    def planning_finished(self) -> None:
        """No batch will be added after the next read."""
        self._planned.set()

    def abort(self) -> None:
        """Hand out nothing more (planning failed); batches already claimed still settle."""
        self._aborted.set()
        self._planned.set()

    def complete(self) -> bool:
        """True once planning is done: read it *before* :meth:`take`, and that read sees every batch."""
        return self._planned.is_set()

    def stopping(self) -> bool:
        return self._aborted.is_set() or self.should_stop()

    def wait_for_more(self, timeout: float) -> None:
        self._planned.wait(timeout)

    def handed_out(self) -> frozenset[int]:
        """The batches handed out so far (this run's, whatever their state now)."""
        with self._lock:
            return frozenset(self._handed)

    def take(self) -> list[int]:
        """Batches not handed out before, in order; each is handed out once."""
        with self._lock:
            fresh = [b for b in self._read() if b not in self._handed]
            self._handed.update(fresh)
        return fresh

    def _read(self) -> Sequence[int]:
        raise NotImplementedError


class LedgerBatches(Batches):
    """The pending batches ``query`` selects (ids, in sending order), read again while
    planning goes on."""

    def __init__(self, runtime: Runtime, query, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.query = query

    @classmethod
    def of_edition(cls, runtime: Runtime, edition_id: int, **kwargs) -> "LedgerBatches":
        return cls(runtime, select(Batch.id).where(Batch.edition_id == edition_id, Batch.status == BatchStatus.PENDING)
                   .order_by(Batch.number), **kwargs)

    def _read(self) -> Sequence[int]:
        with self.runtime.sessions() as session:
            return list(session.scalars(self.query))


class GivenBatches(Batches):
    """These batches (claimed one by one: the ledger decides who sends each)."""

    def __init__(self, batch_ids: Sequence[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.batch_ids = list(batch_ids)

    def _read(self) -> Sequence[int]:
        return self.batch_ids
