"""A runner driven on a thread of its own, so the tick can plan while its batches go out
(:mod:`.tick`): the runner takes each batch once planning has committed it, and the tick
collects the outcomes when planning is done."""

from __future__ import annotations

import threading

from ..deliver.batch import BatchOutcome
from ..deliver.runners import Runner


class SendingThread:
    """The runner's outcomes, drained on a thread of their own while the tick plans."""

    def __init__(self, runner: Runner) -> None:
        self._outcomes: list[BatchOutcome] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, args=(runner,), name="digest-tick-send", daemon=True)
        self._thread.start()

    def _drain(self, runner: Runner) -> None:
        try:
            self._outcomes.extend(runner.outcomes())
        except BaseException as exc:  # handed to the tick's thread by join()
            self._error = exc

    def join(self) -> list[BatchOutcome]:
        """Once every batch handed out has settled: their outcomes (or what stopped the sending)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._outcomes
