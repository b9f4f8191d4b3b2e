"""A plan's first write with batches commits its first batch alone (issue 23: the first
request). A big edition's first write held every batch filled while the render pool
started (21,000 rows at a million readers, 1.4 s in one transaction), and sending could
only start once all of it was committed."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from digest.content import RenderedEmail
from digest.deliver.ledger import get_or_create_edition
from digest.deliver.plan import plan_edition
from digest.deliver.plan import writer
from digest.deliver.plan.bodies import TakenBody
from digest.deliver.plan.result import PlanSummary
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


class _Rendering:
    """Stands in for :class:`~digest.deliver.plan.bodies.EditionBodies`: the selections in
    ``done`` are rendered, the others until :attr:`finished` is set."""

    def __init__(self, done: set[str]):
        self.done = done
        self.finished = threading.Event()

    def ready(self, fingerprint: str) -> bool:
        return fingerprint in self.done or self.finished.is_set()

    def wait(self, fingerprint: str, *, timeout: float | None = None) -> None:
        if not self.ready(fingerprint):
            self.finished.wait(timeout)

    def take(self, fingerprint: str) -> TakenBody:
        rendered = RenderedEmail(f"Subject {fingerprint}", "", f"<p>{fingerprint}</p>", fingerprint)
        return TakenBody(rendered.fingerprint, rendered, (), None)


def _writer(runtime, readers: dict[str, list[int]], done: set[str]):
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    batch_writer = writer.BatchWriter(runtime, edition.id, 2, PlanSummary(edition.id), dry_run=False)
    batch_writer.bodies = _Rendering(done)
    for fingerprint, ids in readers.items():
        batch_writer.selected[fingerprint] = list(ids)
    return batch_writer


def _batches(runtime) -> list[tuple[int, list[int]]]:
    with runtime.session() as session:
        rows = session.execute(select(Batch.number, Delivery.subscriber_id).join(Delivery, Delivery.batch_id == Batch.id)
                               .order_by(Batch.number, Delivery.subscriber_id)).all()
    numbers = sorted({n for n, _ in rows})
    return [(n, [s for m, s in rows if m == n]) for n in numbers]


def test_full_batches_go_out_while_the_last_renders_run(runtime):
    """Every reader selected, one body rendered and one still rendering: the rendered body's
    full batch is written (and can be sent) before the other render is done, not after it."""
    a, b = add_subscribers(runtime, 3, prefix="a"), add_subscribers(runtime, 1, prefix="b")
    batch_writer = _writer(runtime, {"a": a, "b": b}, done={"a"})
    final = threading.Thread(target=batch_writer.flush, kwargs={"final": True})
    final.start()
    try:
        written = []
        for _ in range(200):  # the writer thread commits it; up to 10 s
            written = _batches(runtime)
            if written:
                break
            time.sleep(0.05)
        assert written == [(1, a[:2])]  # while "b" still renders
        assert final.is_alive()
    finally:
        batch_writer.bodies.finished.set()
        final.join(timeout=30)
    batch_writer.close()
    assert _batches(runtime) == [(1, a[:2]), (2, a[2:]), (3, b)]
