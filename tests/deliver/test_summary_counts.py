"""Each run's summary counts every reader of the edition once, and its exit status says
"readers still owed" in every run while the edition owes anyone, not only the first."""

from __future__ import annotations

from sqlalchemy import update

from digest.deliver.edition import send_edition
from digest.deliver.summary import EXIT_OK, EXIT_OWED
from digest.models import Subscriber, SubscriberStatus

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, RecordingProvider, add_subscribers


def _send(runtime, provider, **kw):
    return send_edition(runtime, provider, EDITION, now=NOW, selector=kw.pop("selector", FakeSelector()),
                        renderer=CountingRenderer(), **kw)


def test_readers_refused_or_unsure_inside_a_sent_batch_are_owed_in_every_run(runtime):
    add_subscribers(runtime, 4)  # reader0..reader3, one batch
    provider = RecordingProvider()
    provider.reject["reader1@example.com"] = "550 no such user"
    provider.unsure["reader2@example.com"] = "connection lost after DATA"

    first = _send(runtime, provider)
    second = _send(runtime, provider)  # nothing to send: the edition still owes two readers

    assert (first.sent, first.failed, first.ambiguous, first.readers, first.exit_status) == (2, 1, 1, 4, EXIT_OWED)
    assert (second.sent, second.skipped["already-sent"], second.readers) == (0, 4, 4)
    assert second.exit_status == EXIT_OWED and (second.owed["failed"], second.owed["ambiguous"]) == (1, 1)
    assert any("1 recipient(s) of this edition were refused" in line for line in second.problems())
    assert any("1 recipient(s) of this edition may or may not" in line for line in second.problems())


def test_every_reader_is_counted_once_whatever_happened_to_them(runtime):
    """Sent, nothing new, unsubscribed without a row, already in the ledger."""
    sent = add_subscribers(runtime, 3)
    add_subscribers(runtime, 1, prefix="quiet")
    add_subscribers(runtime, 2, prefix="gone", status=SubscriberStatus.UNSUBSCRIBED)
    provider = RecordingProvider()
    selector = FakeSelector(empty_for={"quiet3@example.com"})  # add_subscribers numbers on from the 3 before

    first = _send(runtime, provider, selector=selector)
    with runtime.session() as session:
        session.execute(update(Subscriber).where(Subscriber.id == sent[0]).values(status=SubscriberStatus.UNSUBSCRIBED))
    second = _send(runtime, provider, selector=selector)

    assert (first.sent, first.skipped["no-new-items"], first.skipped["suppressed"]) == (3, 1, 2)
    assert (first.readers, first.exit_status) == (6, EXIT_OK)
    # The unsubscribed reader0 has a row (sent): already-sent, not suppressed.
    assert (second.sent, second.skipped["already-sent"], second.skipped["suppressed"], second.readers) == (0, 4, 2, 6)
