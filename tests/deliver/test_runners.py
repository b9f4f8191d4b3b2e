"""The runners share one stop rule: once asked to stop they claim nothing more, what they
hold settles, and the rest stays pending for the next run; a provider that halts stops
them the same way. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from digest.deliver.batch import HALTED, Sender
from digest.deliver.ledger import get_or_create_edition
from digest.deliver.plan import plan_edition
from digest.deliver.run import EditionRun
from digest.deliver.runners import LedgerBatches
from digest.deliver.runners.in_process import InlineRunner, ThreadRunner
from digest.models import Batch

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, RecordingProvider, add_subscribers, provider_error

BATCHES = 10


def _planned(runtime) -> int:
    add_subscribers(runtime, BATCHES * 2)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan = plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(),
                        max_recipients=2)
    assert plan.batches == BATCHES
    return edition.id


def _statuses(runtime) -> Counter:
    with runtime.session() as session:
        return Counter(session.scalars(select(Batch.status)))


@pytest.mark.parametrize("make_runner", [InlineRunner, lambda sender: ThreadRunner(sender, 2)],
                         ids=["inline", "threads"])
def test_a_stop_request_claims_nothing_more_and_leaves_the_rest_pending(runtime, make_runner):
    edition_id = _planned(runtime)
    provider = RecordingProvider()
    stop = []
    runner = make_runner(Sender.open(runtime, provider))
    batches = LedgerBatches.of_edition(runtime, edition_id, should_stop=lambda: bool(stop))
    runner.start(batches)
    outcomes = []
    for outcome in runner.outcomes():
        outcomes.append(outcome)
        stop.append(True)  # SIGTERM after the first batch settled
    statuses = _statuses(runtime)
    # Inline: the one batch claimed. Threads: at most the four handed to its two threads
    # before the first settled; each settled, none left claimed.
    assert statuses["sent"] == len(outcomes) == len(provider.sent)
    assert 1 <= len(outcomes) <= (1 if isinstance(runner, InlineRunner) else 4)
    assert statuses == Counter({"sent": len(outcomes), "pending": BATCHES - len(outcomes)})


@pytest.mark.parametrize("make_runner", [InlineRunner, lambda sender: ThreadRunner(sender, 2)],
                         ids=["inline", "threads"])
def test_a_provider_that_halts_stops_the_runner_and_its_batch_goes_back(runtime, make_runner):
    edition_id = _planned(runtime)
    provider = RecordingProvider()
    provider.fail_batches[2] = provider_error("key refused", halt=True)
    runner = make_runner(Sender.open(runtime, provider))
    runner.start(LedgerBatches.of_edition(runtime, edition_id))
    outcomes = list(runner.outcomes())
    halted = [o for o in outcomes if o.status == HALTED]
    assert len(halted) == 1 and halted[0].halt == "key refused"
    statuses = _statuses(runtime)
    assert statuses["sending"] == 0 and statuses["sent"] == len(provider.sent) == len(outcomes) - 1
    assert statuses["pending"] == BATCHES - statuses["sent"]  # the halted one is pending again, the rest never claimed
    if isinstance(runner, InlineRunner):
        assert statuses["sent"] == 1  # the first; the second halted; no third was started
