"""A plan's first write with batches commits its first batch alone (issue 23: the first
request). A big edition's first write held every batch filled while the render pool
started (21,000 rows at a million readers, 1.4 s in one transaction), and sending could
only start once all of it was committed."""

from __future__ import annotations

from sqlalchemy import select

from digest.deliver.ledger import get_or_create_edition
from digest.deliver.plan import plan_edition
from digest.deliver.plan import writer
from digest.deliver.run import EditionRun
from digest.models import Batch, Delivery, Subscriber

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, add_subscribers


def test_the_first_batch_is_committed_before_the_rest_of_the_first_write(runtime, monkeypatch):
    add_subscribers(runtime, 7, topics=("gold",), prefix="g")  # one body: three full batches of 2, then 1
    add_subscribers(runtime, 3, topics=("lithium",), prefix="l")  # another: one full batch, then 1
    writes: list[list[int]] = []  # per transaction: the readers of each batch written
    real_write = writer.BatchWriter._write

    def recording_write(self, groups, new_bodies, skips, render_failed):
        writes.append([len(readers) for _, readers in groups])
        return real_write(self, groups, new_bodies, skips, render_failed)

    monkeypatch.setattr(writer.BatchWriter, "_write", recording_write)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan = plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(),
                        max_recipients=2, chunk_size=100)

    # The chunk's full batches: the first alone, then the other three; then the last write.
    assert writes == [[2], [2, 2, 2], [1, 1]]
    assert (plan.queued, plan.batches) == (10, 6)
    with runtime.session() as session:
        batches = session.execute(
            select(Batch.number, Subscriber.email).join(Delivery, Delivery.batch_id == Batch.id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id).order_by(Batch.number, Subscriber.id)).all()
    assert [(n, e) for n, e in batches] == [
        (1, "g0@example.com"), (1, "g1@example.com"), (2, "g2@example.com"), (2, "g3@example.com"),
        (3, "g4@example.com"), (3, "g5@example.com"), (4, "l7@example.com"), (4, "l8@example.com"),
        (5, "g6@example.com"), (6, "l9@example.com")]
