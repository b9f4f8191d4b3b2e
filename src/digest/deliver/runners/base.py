"""The runner interface (see :mod:`digest.deliver.runners`)."""

from __future__ import annotations

from typing import Iterator

from ..batch import BatchOutcome
from .batches import Batches


class Runner:
    #: True when it sends while planning still writes batches (planning then renders in
    #: worker processes from the start too: the edition is big).
    overlaps_planning = False

    def start(self, batches: Batches) -> None:
        """Before planning: a runner that overlaps planning starts sending here."""
        self.batches = batches

    def outcomes(self) -> Iterator[BatchOutcome]:
        """Each batch's outcome, on the calling thread, until the batches run out (or the
        stop rule ends it); returns once what was handed out has settled."""
        raise NotImplementedError

    # A worker process also takes batches other processes enqueued (Dramatiq); for the
    # runners that send only what they are handed, these do nothing.
    def start_consuming(self) -> None:
        pass

    def stop_consuming(self, timeout_seconds: float) -> None:
        """Fetch nothing more; let batches in flight finish (up to the timeout)."""

    def close(self) -> None:
        pass
