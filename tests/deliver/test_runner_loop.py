"""The runners' loop looks for the first batch more often than for the later ones (issue 23:
the first request waited on average half a look, 0.1 s, after the first batch's commit)."""

from __future__ import annotations

from concurrent.futures import Future

from digest.deliver.batch import BatchOutcome
from digest.deliver.runners import loop
from digest.deliver.runners.batches import Batches


class ScriptedBatches(Batches):
    """Nothing for two looks, then batch 1 (the loop looks once more before it waits for it),
    nothing for one more look, then batch 2 and the end."""

    def __init__(self) -> None:
        super().__init__(planning_done=False)
        self.script = [[], [], [1], [], [], [2]]
        self.waits: list[float] = []

    def _read(self):
        return self.script.pop(0) if self.script else []

    def wait_for_more(self, timeout: float) -> None:
        self.waits.append(timeout)
        if len(self.script) == 1:
            self.planning_finished()


def _sent(chunk) -> Future:
    done: Future = Future()
    done.set_result([BatchOutcome(batch_id, "sent") for batch_id in chunk])
    return done


def test_the_loop_looks_for_the_first_batch_more_often():
    batches = ScriptedBatches()
    outcomes = list(loop.drive(batches, _sent, capacity=2))
    assert [o.batch_id for o in outcomes] == [1, 2]
    assert batches.waits == [loop.FIRST_POLL_SECONDS] * 2 + [loop.POLL_SECONDS]
