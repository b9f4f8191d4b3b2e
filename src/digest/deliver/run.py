"""What one run of the send path was asked to do, built once where it starts (``digest
send``, the worker's tick, the benchmark) and passed down whole, instead of a flag per
signature."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable


def never() -> bool:
    return False


@dataclass(frozen=True)
class EditionRun:
    now: datetime  # the run's clock: selection's window, skipped rows' stamps
    dry_run: bool = False  # select and render, count; write and send nothing
    #: The edition is sent while planning goes on, from worker processes: planning renders
    #: in its own worker processes from the first body (set from the runner chosen).
    big: bool = False
    should_stop: Callable[[], bool] = never  # the SIGTERM flag: claim no more batches

    def with_runner(self, runner) -> "EditionRun":
        """This run as planning sees it once the runner is chosen (see ``big``)."""
        return replace(self, big=runner.overlaps_planning)
