"""The exactly-once ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from digest.deliver.run import EditionRun
from digest.deliver.edition import send_edition
from digest.deliver.ledger import (
    Settlement, claim_batch, get_or_create_edition, recover_stale_batches, resettable_readers, settle_batch,
    worker_identity,
)
from digest.deliver.plan import plan_edition
from digest.models import Batch, BatchStatus, Delivery, DeliveryStatus, Edition, RenderedBody, Subscriber, SubscriberStatus

from fakes.edition_seed import settle_as_failed

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, RecordingProvider, add_subscribers, provider_error


def _send(runtime, provider, **kw):
    kw.setdefault("selector", FakeSelector())
    kw.setdefault("renderer", CountingRenderer())
    return send_edition(runtime, provider, EDITION, now=NOW, **kw)


def _deliveries(runtime):
    with runtime.session() as session:
        return session.execute(select(Delivery.subscriber_id, Delivery.status, Delivery.skip_reason)).all()


def test_plan_writes_one_row_per_subscriber_in_batches(runtime):
    add_subscribers(runtime, 7)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan = plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(),
                        max_recipients=3, chunk_size=2)
    assert (plan.queued, plan.batches) == (7, 3)
    rows = _deliveries(runtime)
    assert len(rows) == len({r.subscriber_id for r in rows}) == 7
    assert {r.status for r in rows} == {DeliveryStatus.QUEUED}
    with runtime.session() as session:
        sizes = session.execute(select(Batch.number, func.count(Delivery.id)).join(Delivery, Delivery.batch_id == Batch.id)
                                .group_by(Batch.number).order_by(Batch.number)).all()
    assert [n for _, n in sizes] == [3, 3, 1]


def test_second_send_sends_nothing(runtime, provider):
    add_subscribers(runtime, 5)
    first = _send(runtime, provider)
    assert first.sent == 5 and first.ok
    second = _send(runtime, provider)
    assert second.sent == 0
    assert second.skipped["already-sent"] == 5
    assert len(provider.emails) == 5
    with runtime.session() as session:
        assert all(s.last_digest_at is not None for s in session.scalars(select(Subscriber)))


def test_get_or_create_edition_is_idempotent(runtime):
    with runtime.session() as session:
        a = get_or_create_edition(session, EDITION)
        b = get_or_create_edition(session, EDITION)
        assert a.id == b.id
        assert session.scalar(select(func.count()).select_from(Edition)) == 1


def test_identical_selections_share_one_rendered_body(runtime, provider):
    add_subscribers(runtime, 4, topics=("gold",), prefix="g")
    add_subscribers(runtime, 3, topics=("gold", "silver"), prefix="gs")
    renderer = CountingRenderer()
    summary = _send(runtime, provider, renderer=renderer)
    assert renderer.renders == 2 == summary.bodies_rendered
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(RenderedBody)) == 2
    assert summary.sent == 7


def test_suppressed_subscriber_is_never_sent_to(runtime, provider):
    add_subscribers(runtime, 2)
    [gone] = add_subscribers(runtime, 1, status=SubscriberStatus.UNSUBSCRIBED, prefix="gone")
    summary = _send(runtime, provider)
    assert summary.skipped["suppressed"] == 1
    assert not any(e.startswith("gone") for e in provider.emails)


def test_unsubscribed_after_planning_is_not_sent(runtime, provider):
    ids = add_subscribers(runtime, 3)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=10)
    with runtime.session() as session:
        # Each queued row keeps the address it was planned for (sending reads it from there).
        planned = dict(session.execute(select(Delivery.subscriber_id, Delivery.email)).all())
        assert planned == dict(session.execute(select(Subscriber.id, Subscriber.email)).all())
        session.get(Subscriber, ids[0]).status = SubscriberStatus.UNSUBSCRIBED
        session.get(Subscriber, ids[1]).status = SubscriberStatus.BOUNCED
        session.get(Subscriber, ids[1]).status = SubscriberStatus.ACTIVE  # and back: still sent
    summary = _send(runtime, provider)
    assert summary.sent == 2 and summary.skipped["suppressed"] == 1
    assert sorted(provider.emails) == sorted(planned[i] for i in ids[1:])
    with runtime.session() as session:
        row = session.scalars(select(Delivery).where(Delivery.subscriber_id == ids[0])).one()
        assert (row.status, row.skip_reason) == (DeliveryStatus.SKIPPED, "suppressed")


def test_nothing_new_is_recorded_as_skipped_once(runtime, provider):
    add_subscribers(runtime, 2)
    add_subscribers(runtime, 1, prefix="quiet")
    selector = FakeSelector(empty_for={"quiet2@example.com"})
    summary = _send(runtime, provider, selector=selector)
    assert summary.skipped["no-new-items"] == 1 and summary.sent == 2
    skipped = [r for r in _deliveries(runtime) if r.status == DeliveryStatus.SKIPPED]
    assert [r.skip_reason for r in skipped] == ["no-new-items"]
    again = _send(runtime, provider, selector=selector)
    assert again.skipped["no-new-items"] == 0 and again.skipped["already-sent"] == 3


def test_blocked_selection_is_counted_and_not_recorded(runtime, provider):
    add_subscribers(runtime, 2)
    summary = _send(runtime, provider, selector=FakeSelector(blocked_for={"reader0@example.com"}))
    assert summary.skipped["blocked"] == 1 and summary.sent == 1 and not summary.ok
    assert "blocked" in summary.blocked_reason
    assert len(_deliveries(runtime)) == 1  # retried once the content is fixed


def test_dry_run_writes_nothing(runtime, provider):
    add_subscribers(runtime, 3)
    renderer = CountingRenderer()
    summary = _send(runtime, provider, dry_run=True, renderer=renderer)
    assert summary.sent == 3 and summary.bodies_rendered == 1 == renderer.renders
    assert provider.calls == 0
    with runtime.session() as session:
        for model in (Edition, Batch, Delivery, RenderedBody):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_failed_batch_does_not_stop_the_others(runtime):
    add_subscribers(runtime, 6)
    provider = RecordingProvider(max_recipients=2)
    provider.fail_batches[2] = provider_error("401 bad key", permanent=True)
    summary = _send(runtime, provider)
    assert summary.batches[BatchStatus.SENT] == 2 and summary.batches[BatchStatus.FAILED] == 1
    assert (summary.sent, summary.failed) == (4, 2)
    assert not summary.ok and summary.outstanding[BatchStatus.FAILED] == 1
    statuses = sorted(r.status for r in _deliveries(runtime))
    assert statuses == ["failed"] * 2 + ["sent"] * 4
    # not retried on its own...
    assert _send(runtime, provider).sent == 0
    # ...only when the operator asks
    retried = _send(runtime, provider, retry_failed=True)
    assert retried.sent == 2 and retried.ok
    assert sorted(provider.emails) == sorted(set(provider.emails))


def test_ambiguous_batch_is_reported_and_not_resent_until_reset(runtime):
    add_subscribers(runtime, 4)
    provider = RecordingProvider(max_recipients=2)
    provider.fail_batches[1] = provider_error("answer lost", ambiguous=True)
    first = _send(runtime, provider)
    assert first.ambiguous == 2 and first.outstanding[BatchStatus.AMBIGUOUS] == 1 and not first.ok
    assert any("ambiguous" in line for line in first.problems())
    second = _send(runtime, provider)
    assert second.sent == 0 and second.outstanding[BatchStatus.AMBIGUOUS] == 1
    third = _send(runtime, provider, resend_ambiguous=True)
    assert third.sent == 2 and third.ok
    assert sorted(r.status for r in _deliveries(runtime)) == ["sent"] * 4


def test_unexpected_error_during_send_is_ambiguous(runtime):
    add_subscribers(runtime, 2)
    provider = RecordingProvider()
    provider.fail_batches[1] = ConnectionResetError("peer reset")
    summary = _send(runtime, provider)
    assert summary.batches[BatchStatus.AMBIGUOUS] == 1 and summary.sent == 0


def test_rejected_recipient_fails_alone(runtime):
    add_subscribers(runtime, 3)
    provider = RecordingProvider()
    provider.reject["reader1@example.com"] = "550 no such user"
    summary = _send(runtime, provider)
    assert (summary.sent, summary.failed) == (2, 1)
    with runtime.session() as session:
        failed = session.execute(select(Subscriber.email, Delivery.error)
                                 .join(Delivery, Delivery.subscriber_id == Subscriber.id).where(Delivery.status == DeliveryStatus.FAILED)).all()
        assert [tuple(r) for r in failed] == [("reader1@example.com", "550 no such user")]
        batch_id, message_id = session.execute(select(Batch.id, Batch.provider_message_id)).one()
        assert message_id == f"fake-{batch_id}"


def test_recipient_the_provider_is_unsure_of_is_ambiguous_not_sent(runtime):
    """SMTP cut during DATA: that one recipient may have had it; recorded, never resent."""
    add_subscribers(runtime, 3)
    provider = RecordingProvider()
    provider.unsure["reader2@example.com"] = "connection lost during DATA"
    summary = _send(runtime, provider)
    assert (summary.sent, summary.failed, summary.ambiguous) == (2, 0, 1)
    with runtime.session() as session:
        rows = session.execute(select(Subscriber.email, Delivery.status, Subscriber.last_digest_at)
                               .join(Delivery, Delivery.subscriber_id == Subscriber.id).order_by(Subscriber.email)).all()
    assert [(email, status) for email, status, _ in rows] == [
        ("reader0@example.com", DeliveryStatus.SENT),
        ("reader1@example.com", DeliveryStatus.SENT),
        ("reader2@example.com", DeliveryStatus.AMBIGUOUS),
    ]
    assert rows[2].last_digest_at is None
    assert _send(runtime, provider).sent == 0  # and a second run does not resend it


def test_only_one_of_two_claims_wins(runtime):
    add_subscribers(runtime, 2)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=10)
    with runtime.session() as session:
        batch_id = session.scalar(select(Batch.id))
    results = []
    barrier = threading.Barrier(8)

    def claim(n):
        with runtime.sessions() as session:
            barrier.wait()
            results.append(claim_batch(session, batch_id, f"test:{n}:x") is not None)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_concurrent_planners_write_no_duplicate(runtime):
    add_subscribers(runtime, 40)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plans, errors = [], []
    barrier = threading.Barrier(3)

    def plan():
        try:
            barrier.wait()
            plans.append(plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(),
                                      max_recipients=3, chunk_size=4))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=plan) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = _deliveries(runtime)
    assert len(rows) == len({r.subscriber_id for r in rows}) == 40
    assert sum(p.queued for p in plans) == 40
    with runtime.session() as session:
        empty_batches = session.scalar(select(func.count()).select_from(Batch).where(
            ~select(Delivery.id).where(Delivery.batch_id == Batch.id).exists()))
        assert empty_batches == 0


def test_crash_between_claim_and_settle_leaves_one_ambiguous_batch(runtime, provider):
    add_subscribers(runtime, 6)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=2)
    with runtime.session() as session:
        first = session.scalar(select(Batch.id).order_by(Batch.number))
        # a process on another host claims it, then dies without settling
        assert claim_batch(session, first, "elsewhere:4242:1", now=NOW - timedelta(hours=1))
    summary = _send(runtime, provider)
    assert summary.recovered == [first]
    assert summary.sent == 4 and summary.outstanding[BatchStatus.AMBIGUOUS] == 1
    assert len(provider.emails) == 4


def test_a_live_claim_on_this_host_is_not_recovered(runtime):
    add_subscribers(runtime, 1)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=2)
    with runtime.session() as session:
        batch_id = session.scalar(select(Batch.id))
        assert claim_batch(session, batch_id, worker_identity(), now=NOW - timedelta(days=1))
        assert recover_stale_batches(session, NOW) == []
        # the same pid with another start time is a different (new) process: gone
        host, pid, _ = worker_identity().rsplit(":", 2)
        session.execute(Batch.__table__.update().values(claimed_by=f"{host}:{pid}:1"))
        session.commit()
        assert recover_stale_batches(session, NOW) == [batch_id]


def test_settle_refuses_a_batch_held_by_someone_else(runtime):
    add_subscribers(runtime, 1)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=2)
    with runtime.session() as session:
        batch_id = session.scalar(select(Batch.id))
        assert claim_batch(session, batch_id, "a:1:1")
        assert not settle_batch(session, batch_id, "b:2:2", Settlement(BatchStatus.SENT))
        assert settle_batch(session, batch_id, "a:1:1", Settlement(BatchStatus.SENT, message_id="m"))
        assert session.scalar(select(Batch.status)) == BatchStatus.SENT
        assert session.scalar(select(Batch.provider_message_id)) == "m"
        # The batch's message id stays on the batch: not copied onto each delivery row.
        assert session.execute(select(Delivery.status, Delivery.provider_message_id)).one() == (DeliveryStatus.SENT, None)


def test_a_batch_that_cannot_be_prepared_is_failed_once_and_not_sent(runtime, provider, monkeypatch):
    from digest.deliver import batch

    def broken(*args, **kwargs):
        raise RuntimeError("cannot build")

    monkeypatch.setattr(batch, "build_outgoing", broken)
    add_subscribers(runtime, 3)
    summary = _send(runtime, provider)
    assert summary.sent == 0 and not provider.emails
    with runtime.session() as session:
        batches = session.execute(select(Batch.status, Batch.attempts, Batch.error)).all()
        assert [(s, a) for s, a, _ in batches] == [(BatchStatus.FAILED, 1)]
        assert batches[0].error.startswith("not sent: cannot build")
        assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.FAILED}


def test_batches_of_one_body_read_and_date_it_once(runtime, provider, monkeypatch):
    from digest.deliver import recipients

    monkeypatch.setattr(recipients, "_dated_bodies", recipients.DatedBodies())
    reads = []  # the body made from its stored columns (returned by each claim), decompressed
    real = recipients.stored_email
    monkeypatch.setattr(recipients, "stored_email", lambda body_id, *stored: reads.append(body_id) or real(body_id, *stored))
    add_subscribers(runtime, 7)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=3)
    summary = _send(runtime, provider)
    assert summary.sent == 7 and len(provider.sent) == 3
    assert len(reads) == 1  # decompressed and dated once, not once per batch
    assert len({(b.body.subject, b.body.html, b.body.text) for b in provider.sent}) == 1


def test_rows_another_planner_wrote_first_are_skipped_not_an_error(runtime):
    """The plain INSERT meets a unique violation; the rows go in again skipping those."""
    from digest.deliver.plan.rows import insert_deliveries
    from digest.models import utcnow

    ids = add_subscribers(runtime, 3)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
        first = insert_deliveries(session, edition.id, DeliveryStatus.QUEUED, None, utcnow(), ids[:2], [7, 7])
        session.commit()
        again = insert_deliveries(session, edition.id, DeliveryStatus.QUEUED, None, utcnow(), ids, [8, 8, 8])
        session.commit()
    assert (first, again) == ({7: 2}, {8: 1})  # rows inserted per batch
    rows = _deliveries(runtime)
    assert sorted(r.subscriber_id for r in rows) == sorted(ids)


def test_the_first_chunk_is_small_the_others_chunk_size(runtime, monkeypatch):
    """A plan's first chunk is at most FIRST_CHUNK readers (its full batches go out once it
    is selected), the later ones chunk_size: paging through the whole list and through
    given readers alike, every reader once, in id order."""
    from digest.deliver.plan import readers
    from digest.subscribers.cadence import due_on

    monkeypatch.setattr(readers, "FIRST_CHUNK", 2)
    ids = add_subscribers(runtime, 8)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    for given in (None, ids[::-1]):
        chunks = list(readers.active_unplanned(runtime, edition.id, given, 3, due=due_on(EDITION)))
        assert [[row[0] for row in chunk] for chunk in chunks] == [ids[:2], ids[2:5], ids[5:8]]


def test_a_queued_row_keeps_its_readers_address_and_zone_as_they_are_when_written(runtime):
    """The planner sends only subscriber and batch ids; each queued row takes its reader's
    address and zone from ``subscribers`` when it is written (a reader who changed either
    since planning read them gets the new ones), in whatever order the readers came; a
    skipped row keeps neither."""
    from digest.deliver.plan.rows import insert_deliveries
    from digest.models import utcnow

    ids = add_subscribers(runtime, 5)
    with runtime.session() as session:
        for sid, zone, email in ((ids[0], "Europe/Paris", "first@example.com"), (ids[1], "Asia/Tokyo", None),
                                 (ids[2], "America/New_York", "a,b@example.com")):
            subscriber = session.get(Subscriber, sid)
            subscriber.timezone = zone
            subscriber.email = email or subscriber.email
        session.commit()
        second_email = session.get(Subscriber, ids[1]).email
        edition = get_or_create_edition(session, EDITION)
        queued = insert_deliveries(session, edition.id, DeliveryStatus.QUEUED, None, utcnow(),
                                   [ids[2], ids[0], ids[1]], [5, 6, 5])
        skipped = insert_deliveries(session, edition.id, DeliveryStatus.SKIPPED, "no-new-items", utcnow(),
                                    [ids[4], ids[3]])
        session.commit()
    assert (queued, skipped) == ({5: 2, 6: 1}, {None: 2})
    with runtime.session() as session:
        rows = session.execute(select(Delivery.subscriber_id, Delivery.batch_id, Delivery.timezone, Delivery.email,
                                      Delivery.status)).all()
    assert {sid: tuple(values) for sid, *values in rows} == {
        ids[0]: (6, "Europe/Paris", "first@example.com", "queued"),
        ids[1]: (5, "Asia/Tokyo", second_email, "queued"),
        ids[2]: (5, "America/New_York", "a,b@example.com", "queued"),
        ids[3]: (None, None, None, "skipped"),
        ids[4]: (None, None, None, "skipped"),
    }


def test_the_last_write_is_sliced_into_transactions_with_the_same_batches(runtime, monkeypatch):
    from digest.deliver.plan import writer

    # Readers on three topic sets (three bodies), a few of them skipped for nothing new.
    add_subscribers(runtime, 7, topics=("gold",), prefix="g")
    add_subscribers(runtime, 5, topics=("lithium",), prefix="l")
    add_subscribers(runtime, 4, topics=("gold", "lithium"), prefix="b")
    writes: list[int] = []
    real_write = writer.BatchWriter._write

    def counting_write(self, groups, new_bodies, skips, render_failed):
        writes.append(sum(len(readers) for _, readers in groups))
        return real_write(self, groups, new_bodies, skips, render_failed)

    monkeypatch.setattr(writer.BatchWriter, "_write", counting_write)
    ledgers, plans = {}, {}
    for slot, rows_per_write in (("whole", 10_000), ("sliced", 3)):
        monkeypatch.setattr(writer, "FINAL_ROWS_PER_WRITE", rows_per_write)
        writes.clear()
        with runtime.session() as session:
            edition = get_or_create_edition(session, EDITION, slot)
        plans[slot] = plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(),
                                   selector=FakeSelector(empty_for={"g3@example.com", "l8@example.com"}),
                                   max_recipients=10, chunk_size=100)
        with runtime.session() as session:
            ledgers[slot] = sorted(session.execute(
                select(Subscriber.email, Delivery.status, Batch.number, Batch.body_id)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .outerjoin(Batch, Batch.id == Delivery.batch_id).where(Delivery.edition_id == edition.id)).all())
        # The chunk's write (bodies and skips: no batch is full), then the last one: whole,
        # or one transaction per batch (each over 3 rows) in order.
        assert writes == ([0, 14] if slot == "whole" else [0, 6, 4, 4])
        settle_as_failed(runtime, edition.id)  # else its readers are in flight for the next plan
    assert ledgers["whole"] == ledgers["sliced"] and len(ledgers["whole"]) == 16
    assert (plans["whole"].queued, plans["whole"].batches, plans["whole"].skipped) == \
        (plans["sliced"].queued, plans["sliced"].batches, plans["sliced"].skipped) == (14, 3, plans["whole"].skipped)
    assert plans["whole"].skipped["no-new-items"] == 2


def test_bodies_are_stored_in_order_while_the_last_renders_run(runtime):
    from digest.deliver.plan import PlanSummary
    from digest.deliver.plan.bodies import TakenBody
    from digest.deliver.plan.writer import BatchWriter

    class SlowBodies:
        """Renders that finish one at a time, last first: bodies must still be stored in order."""

        def __init__(self, fingerprints):
            self.unfinished = list(fingerprints)
            self.taken: set[str] = set()

        def ready(self, fingerprint):
            return fingerprint not in self.unfinished

        def wait(self, fingerprint, timeout=None):
            self.unfinished.pop()  # the last one submitted finishes first

        def take(self, fingerprint):
            assert self.ready(fingerprint)
            if fingerprint in self.taken:
                return TakenBody(fingerprint, None, (), None)
            self.taken.add(fingerprint)
            rendered = CountingRenderer().render(FakeSelector().for_subscriber(_Reader(fingerprint), EDITION))
            return TakenBody(fingerprint, rendered, (), None)

    class _Reader:
        def __init__(self, topic):
            self.email, self.topic_slugs = f"{topic}@example.com", (topic,)

    ids = {}
    for topic in ("gold", "lithium", "copper"):
        ids[topic] = add_subscribers(runtime, 1, topics=(topic,), prefix=topic)[0]
    with runtime.session() as session:
        edition_id = get_or_create_edition(session, EDITION).id
    stored: list[str] = []
    writer = BatchWriter(runtime, edition_id, 10, PlanSummary(edition_id), dry_run=False)
    real_write = writer._write

    def recording_write(groups, new_bodies, skips, render_failed):
        stored.extend(rendered.subject for rendered in new_bodies.values())
        return real_write(groups, new_bodies, skips, render_failed)

    writer._write = recording_write
    writer.bodies = SlowBodies(["gold", "lithium", "copper"])
    for topic, subscriber_id in ids.items():
        writer.selected[topic].append(subscriber_id)
    try:
        writer.flush(final=True)
    finally:
        writer.close()
    assert stored == ["Your digest: gold", "Your digest: lithium", "Your digest: copper"]
    with runtime.session() as session:
        bodies = session.execute(select(RenderedBody.subject).order_by(RenderedBody.id)).scalars().all()
        assert bodies == stored  # ids in the order the plan met the selections
        assert session.scalar(select(func.count()).select_from(Delivery)) == 3


def test_resets_reach_each_failed_or_ambiguous_reader_whatever_their_batch(runtime):
    add_subscribers(runtime, 7)  # batches of 3: reader0-2, reader3-5, reader6
    provider = RecordingProvider(max_recipients=3)
    provider.reject = {"reader0@example.com": "550 no such user"}  # refused for its address: final
    provider.not_taken = {"reader1@example.com": "452 try later"}  # retryable, inside a batch that went out
    provider.unsure = {"reader4@example.com": "cut during DATA"}  # ambiguous, inside a batch that went out
    provider.fail_batches = {3: provider_error("server down")}  # the third batch fails as a whole
    first = _send(runtime, provider)
    assert (first.sent, first.failed, first.ambiguous) == (3, 3, 1)
    with runtime.session() as session:
        edition_id = session.scalar(select(Edition.id))
        assert resettable_readers(session, edition_id, BatchStatus.FAILED) == 2  # reader1, reader6
        assert resettable_readers(session, edition_id, BatchStatus.AMBIGUOUS) == 1
        failed_batch = session.scalar(select(Batch.id).where(Batch.status == BatchStatus.FAILED))

    provider.reject, provider.not_taken, provider.unsure = {}, {}, {}
    retried = _send(runtime, provider, retry_failed=True)
    resent = _send(runtime, provider, resend_ambiguous=True)

    # Handed to the provider: the first run's two batches; then the failed batch (number 3)
    # and reader1's new one; then reader4's. reader0 only in the request that refused it.
    assert provider.emails == [f"reader{n}@example.com" for n in (0, 1, 2, 3, 4, 5, 6, 1, 4)]
    assert (retried.sent, resent.sent) == (2, 1)
    with runtime.session() as session:
        status = dict(session.execute(select(Subscriber.email, Delivery.status)
                                      .join(Delivery, Delivery.subscriber_id == Subscriber.id)).all())
        batches = session.execute(select(Batch.id, Batch.number, Batch.status).order_by(Batch.number)).all()
    assert status.pop("reader0@example.com") == DeliveryStatus.FAILED
    assert set(status.values()) == {DeliveryStatus.SENT}
    # The failed batch went again as itself; reader1 and reader4 each got a batch of their own.
    assert [(n, s) for _, n, s in batches] == [(1, "sent"), (2, "sent"), (3, "sent"), (4, "sent"), (5, "sent")]
    assert batches[2][0] == failed_batch


def test_each_batchs_rows_are_written_together_whatever_its_readers_ids(runtime):
    """Readers of two bodies alternate by id; each batch's rows still go in one after
    another (consecutive delivery ids), so sending reads and settles a few pages per
    batch, not one per reader. Written in subscriber order, the batches interleaved."""
    gold, lithium = [], []
    for _ in range(5):
        gold += add_subscribers(runtime, 1, topics=("gold",), prefix="g")
        lithium += add_subscribers(runtime, 1, topics=("lithium",), prefix="l")
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(),
                 max_recipients=10)
    with runtime.session() as session:
        rows = session.execute(select(Delivery.batch_id, Delivery.id, Delivery.subscriber_id)
                               .where(Delivery.edition_id == edition.id).order_by(Delivery.id)).all()
    runs = [[sid for batch, _, sid in rows if batch == b] for b in dict.fromkeys(batch for batch, _, _ in rows)]
    assert sorted(runs) == sorted([gold, lithium])  # two batches, each its readers in id order
    ids_by_batch = {}
    for batch, delivery_id, _ in rows:
        ids_by_batch.setdefault(batch, []).append(delivery_id)
    for ids in ids_by_batch.values():  # consecutive: nothing of the other batch between them
        assert ids == list(range(ids[0], ids[0] + 5))
