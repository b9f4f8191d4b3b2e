"""Planning asks the real selector once per distinct (topics, last digest) in a chunk
(``Selector.for_reader``) instead of once per reader: the ledger it writes must be the
one the per-reader path writes, reader for reader, including blocked and skipped ones."""

from __future__ import annotations

import gc
from collections import Counter
from datetime import date, timedelta

import pytest
from select_seeding import NOW
from sqlalchemy import select

from digest.deliver.run import EditionRun
from digest.deliver.plan import ReaderSelector, plan_edition
from digest.models import Batch, Delivery, Edition, RenderedBody, Subscriber
from digest.select import Selector
from fakes.edition_seed import settle_as_failed

EDITION = date(2026, 11, 27)


class PerReader:
    """The same selector, seen only through ``for_subscriber``: the per-reader path."""

    def __init__(self, selector: Selector):
        self.selector = selector
        self.calls = 0

    def for_subscriber(self, subscriber, edition_date):
        self.calls += 1
        return self.selector.for_subscriber(subscriber, edition_date)


class CountingReaders(Selector):
    calls = 0

    def for_reader(self, topic_slugs, last_digest_at, edition_date):
        CountingReaders.calls += 1
        return super().for_reader(topic_slugs, last_digest_at, edition_date)


def _config(runtime, *, strict: bool):
    config = runtime.settings.config
    return config.model_copy(update={"selection": config.selection.model_copy(update={"strict": strict})})


def _seed(seed):
    seed.briefing(title="lithium now", hours_ago=1, topics=("lithium",))
    seed.briefing(title="lithium earlier", hours_ago=6, topics=("lithium",))
    seed.briefing(title="gold", hours_ago=2, topics=("gold",))
    # No author disclosure: strict mode blocks every reader who would be shown it.
    seed.briefing(title="copper, undisclosed", hours_ago=3, topics=("copper",), author_disclosure=None)
    seed.video(hours_ago=2, topics=("lithium",))
    windows = [None, NOW - timedelta(hours=4), NOW - timedelta(hours=3), NOW - timedelta(hours=8),
               NOW - timedelta(minutes=30)]  # the last: nothing new for anyone
    topic_sets = [("lithium",), ("gold",), ("lithium", "gold"), ("copper",), ("gold", "copper")]
    n = 0
    for _ in range(3):  # readers sharing (topics, window) several times over, interleaved by id
        for window in windows:
            for topics in topic_sets:
                n += 1
                seed.subscriber(f"r{n}@example.com", topics=topics, last_digest_at=window)
    seed.session.commit()
    return n


def _ledger(runtime, edition_id):
    with runtime.session() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.status, Delivery.skip_reason, Batch.number, RenderedBody.fingerprint)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .outerjoin(Batch, Batch.id == Delivery.batch_id)
            .outerjoin(RenderedBody, RenderedBody.id == Batch.body_id)
            .where(Delivery.edition_id == edition_id)
        ).all()
    return sorted(tuple(row) for row in rows)


@pytest.mark.parametrize("strict", [False, True])
def test_asking_once_per_topics_and_window_writes_the_per_reader_ledger(runtime, seed, strict):
    readers = _seed(seed)
    config = _config(runtime, strict=strict)
    plans, ledgers = {}, {}
    for name in ("per-reader", "by-reader"):  # two editions of one day (slots), one database
        with runtime.session() as session:
            edition = Edition(date=EDITION, slot=name)
            session.add(edition)
            session.commit()
            edition_id = edition.id
        with runtime.session() as session:
            real = CountingReaders(session, config, NOW)
            selector = PerReader(real) if name == "per-reader" else real
            assert isinstance(selector, ReaderSelector) == (name == "by-reader")
            with runtime.session() as s:
                edition = s.get(Edition, edition_id)
                s.expunge(edition)
            CountingReaders.calls = 0
            plans[name] = plan_edition(runtime, edition, EditionRun(NOW), selector=selector, max_recipients=4,
                                       render_processes=0, chunk_size=50)
            if name == "per-reader":
                assert selector.calls == readers
            else:  # 75 readers in chunks of 50 and 25, 25 distinct (topics, window) pairs in each
                assert CountingReaders.calls == 25 + 25
        ledgers[name] = [(email, status, reason, number, body) for email, status, reason, number, body in
                         _ledger(runtime, edition_id)]
        settle_as_failed(runtime, edition_id)  # else its readers are in flight for the next plan

    per_reader, by_reader = plans["per-reader"], plans["by-reader"]
    assert ledgers["per-reader"] == ledgers["by-reader"]
    assert (per_reader.queued, per_reader.batches, per_reader.bodies_rendered) == \
        (by_reader.queued, by_reader.batches, by_reader.bodies_rendered)
    assert per_reader.skipped == by_reader.skipped
    assert per_reader.blocked_reason == by_reader.blocked_reason
    statuses = Counter(status for _, status, *_ in ledgers["by-reader"])
    assert statuses["queued"] > 0 and statuses["skipped"] > 0  # both kinds of reader are in the ledger
    if strict:  # copper readers whose window holds the undisclosed item (3 windows of 5): no row, counted
        assert by_reader.skipped["blocked"] == 2 * 3 * 3 and "copper, undisclosed" in by_reader.blocked_reason
    else:
        assert by_reader.skipped["blocked"] == 0


class ThresholdSeen(PerReader):
    """Notes the cycle collector's thresholds each time planning asks about a reader."""

    def __init__(self, selector: Selector):
        super().__init__(selector)
        self.thresholds: set[tuple[int, ...]] = set()

    def for_subscriber(self, subscriber, edition_date):
        self.thresholds.add(gc.get_threshold())
        return super().for_subscriber(subscriber, edition_date)


def test_the_cycle_collector_runs_less_often_while_planning_and_as_before_after(runtime, seed):
    """Planning raises the young generation's threshold to YOUNG_THRESHOLD (100,000)
    while it runs and puts the process's thresholds back when it is done, also when it
    fails; a threshold already higher (or 0, collection off) is left as it is."""
    from digest.deliver import collector

    seed.subscriber("a@example.com", topics=("gold",))
    seed.session.commit()
    with runtime.session() as session:
        edition = Edition(date=EDITION, slot="daily")
        session.add(edition)
        session.commit()
        session.expunge(edition)
    before = gc.get_threshold()
    try:
        for start, during in (((700, 10, 10), (100_000, 10, 10)), ((500, 7, 9), (100_000, 7, 9)),
                              ((200_000, 10, 10), (200_000, 10, 10)), ((0, 10, 10), (0, 10, 10))):
            gc.set_threshold(*start)
            with runtime.session() as session:
                selector = ThresholdSeen(Selector(session, runtime.settings.config, NOW))
                plan_edition(runtime, edition, EditionRun(NOW, dry_run=True), selector=selector,
                             max_recipients=4, render_processes=0)
            assert selector.calls == 1
            assert selector.thresholds == {during}
            assert gc.get_threshold() == start
        gc.set_threshold(700, 10, 10)
        with pytest.raises(ValueError, match="boom"), collector.fewer_collections():
            assert gc.get_threshold() == (100_000, 10, 10)
            raise ValueError("boom")
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
