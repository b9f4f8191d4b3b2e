"""A reader's last digest (``subscribers.last_digest_at``, where their next selection
starts) comes from the ledger: recorded for a whole edition at once, after its batches
settle, and caught up by the next plan when a run stopped before recording it. On
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select, update

from digest.deliver.run import EditionRun
from digest.deliver.ledger import get_or_create_edition, record_last_digests
from digest.deliver.plan import plan_edition
from digest.models import Batch, Subscriber

from fakes.batches import send_pending

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, RecordingProvider, add_subscribers


def _last_digests(runtime) -> dict[str, datetime | None]:
    with runtime.session() as session:
        return dict(session.execute(select(Subscriber.email, Subscriber.last_digest_at)).all())


def _send_without_recording(runtime, provider, day: date, selector=None) -> int:
    """Plan and send an edition the way a worker that stops right after its last batch
    does: every batch settled, the readers' last digest not recorded."""
    with runtime.session() as session:
        edition = get_or_create_edition(session, day)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=selector or FakeSelector(),
                 max_recipients=2)
    send_pending(runtime, provider, edition.id)
    return edition.id


def _sent_at(runtime, edition_id: int) -> list[datetime]:
    with runtime.session() as session:
        return list(session.scalars(select(Batch.sent_at).where(Batch.edition_id == edition_id)))


def test_settling_leaves_subscribers_alone_until_the_edition_is_recorded(runtime):
    add_subscribers(runtime, 4)
    provider = RecordingProvider()
    provider.reject["reader1@example.com"] = "550 no such user"
    provider.unsure["reader2@example.com"] = "connection lost during DATA"
    edition_id = _send_without_recording(runtime, provider, EDITION)
    assert set(_last_digests(runtime).values()) == {None}

    with runtime.session() as session:
        assert record_last_digests(session, edition_id) == 2
    last = _last_digests(runtime)
    sent_at = dict(zip(("reader0", "reader3"), sorted(_sent_at(runtime, edition_id))))
    assert last["reader0@example.com"] == sent_at["reader0"]
    assert last["reader3@example.com"] == sent_at["reader3"]
    assert last["reader1@example.com"] is None  # refused: never had it
    assert last["reader2@example.com"] is None  # may or may not have had it
    with runtime.session() as session:
        assert record_last_digests(session) == 0  # recorded once
        assert set(session.scalars(select(Batch.readers_recorded))) == {True}


class _SeesLastDigest(FakeSelector):
    def __init__(self):
        super().__init__()
        self.seen: dict[str, datetime | None] = {}

    def for_subscriber(self, subscriber, edition_date):
        self.seen[subscriber.email] = subscriber.last_digest_at
        return super().for_subscriber(subscriber, edition_date)


def test_the_next_plan_records_what_a_stopped_run_did_not(runtime):
    add_subscribers(runtime, 3)
    first = _send_without_recording(runtime, RecordingProvider(), EDITION)
    sent_at = _sent_at(runtime, first)

    selector = _SeesLastDigest()
    with runtime.session() as session:
        tomorrow = get_or_create_edition(session, EDITION + timedelta(days=1))
    plan_edition(runtime, tomorrow, EditionRun(NOW + timedelta(days=1)), renderer=CountingRenderer(), selector=selector,
                 max_recipients=2)
    assert len(selector.seen) == 3
    assert all(seen is not None and seen in sent_at for seen in selector.seen.values())


def test_the_latest_send_wins_and_a_later_digest_is_never_moved_back(runtime):
    add_subscribers(runtime, 2)
    provider = RecordingProvider()
    first = _send_without_recording(runtime, provider, EDITION)
    second = _send_without_recording(runtime, provider, EDITION + timedelta(days=1))
    later = datetime(2099, 1, 1, tzinfo=timezone.utc)
    with runtime.session() as session:
        session.execute(update(Subscriber).where(Subscriber.email == "reader1@example.com").values(last_digest_at=later))
        session.commit()
        assert record_last_digests(session) == 1  # both editions at once
    last = _last_digests(runtime)
    assert last["reader0@example.com"] == max(_sent_at(runtime, second))
    assert max(_sent_at(runtime, second)) > max(_sent_at(runtime, first))
    assert last["reader1@example.com"] == later


def test_recording_in_parts_updates_every_reader_once(runtime):
    add_subscribers(runtime, 7)
    provider = RecordingProvider()
    provider.reject["reader4@example.com"] = "550 no such user"
    edition_id = _send_without_recording(runtime, provider, EDITION)
    with runtime.session() as session:
        assert record_last_digests(session, edition_id, parts=3, open_session=runtime.sessions) == 6
        assert record_last_digests(session, edition_id, parts=3, open_session=runtime.sessions) == 0
    last = _last_digests(runtime)
    assert last.pop("reader4@example.com") is None
    assert len(last) == 6 and set(last.values()) <= set(_sent_at(runtime, edition_id))


def test_two_recorders_at_once_neither_fails_nor_records_twice(runtime):
    import threading

    add_subscribers(runtime, 30)
    _send_without_recording(runtime, RecordingProvider(), EDITION)  # 15 batches of 2
    counts, errors = [], []
    start = threading.Barrier(2)

    def record():
        try:
            with runtime.sessions() as session:
                start.wait()
                counts.append(record_last_digests(session, parts=2, open_session=runtime.sessions))
        except Exception as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sum(counts) == 30
    assert None not in _last_digests(runtime).values()
