"""The report's ``sent`` figure is counted into the edition counters as batches settle
(and as an ambiguous reader is settled as sent), so a report never counts deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select

from digest.deliver.run import EditionRun
from digest.deliver.ledger import Settlement, claim_batch, get_or_create_edition, settle_batch
from digest.deliver.plan import plan_edition
from digest.deliver.ledger.settlement import settle_delivery
from digest.models import Batch, BatchStatus, Delivery, DeliveryStatus, EditionCounter
from digest.report.reading import read_report

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, add_subscribers

LATER = datetime(2026, 3, 3, 9, 30, tzinfo=timezone.utc)


def sent_counters(session) -> list[tuple]:
    return session.execute(select(EditionCounter.day, EditionCounter.item, EditionCounter.count)
                           .where(EditionCounter.figure == "sent").order_by(EditionCounter.day)).all()


def test_settling_batches_counts_sent_readers_once_and_the_report_reads_only_counters(runtime):
    add_subscribers(runtime, 5)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=3)
    with runtime.session() as session:
        first, second = session.scalars(select(Batch.id).order_by(Batch.number)).all()
        rows = {b: session.scalars(select(Delivery.id).where(Delivery.batch_id == b).order_by(Delivery.id)).all()
                for b in (first, second)}
        assert [len(rows[first]), len(rows[second])] == [3, 2]

        # Batch 1: 3 readers, one refused -> 2 sent. Settled twice (a retry after a lost
        # connection): counted once.
        outcome = Settlement(BatchStatus.SENT, message_id="m1", rejected={rows[first][0]: "550 no such user"})
        assert claim_batch(session, first, "w:1:1", now=NOW)
        assert settle_batch(session, first, "w:1:1", outcome, now=NOW)
        assert settle_batch(session, first, "w:1:1", outcome, now=NOW)
        assert sent_counters(session) == [(EDITION, "", 2)]

        # Batch 2: 2 readers, one ambiguous -> 1 sent now; the ambiguous one is settled as
        # sent by its event a day later (counted on that day), and only once.
        assert claim_batch(session, second, "w:1:1", now=NOW)
        assert settle_batch(session, second, "w:1:1",
                            Settlement(BatchStatus.SENT, message_id="m2", ambiguous={rows[second][1]: "timeout"}),
                            now=NOW)
        assert sent_counters(session) == [(EDITION, "", 3)]
        assert settle_delivery(session, rows[second][1], "delivered", "ev-1", at=LATER)
        assert not settle_delivery(session, rows[second][1], "delivered", "ev-2", at=LATER)
        session.commit()
        assert sent_counters(session) == [(EDITION, "", 3), (LATER.date(), "", 1)]

        # The report reads the counters alone: with the delivery rows gone it says the same.
        session.execute(delete(Delivery))
        session.commit()
        report = read_report(session, EDITION - timedelta(days=1), EDITION)  # the edition's date
    [only] = report.editions
    assert only.figures["sent"] == 4
    assert all("sent" not in figures for figures in only.days.values())  # days are those of events


def test_sent_counted_on_several_shards_is_one_exact_figure_in_the_report(runtime, monkeypatch):
    from digest.report import counting

    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
        for shard, readers in ((3, 1000), (11, 998), (3, 2)):  # two sending threads' rows, one added to twice
            monkeypatch.setattr(counting, "sent_shard", lambda shard=shard: shard)
            counting.count_sent(session, edition.id, readers, NOW.date())
        session.commit()
        rows = session.execute(select(EditionCounter.shard, EditionCounter.count)
                               .where(EditionCounter.figure == "sent").order_by(EditionCounter.shard)).all()
        assert [tuple(row) for row in rows] == [(3, 1002), (11, 998)]
        report = read_report(session, EDITION - timedelta(days=1), EDITION)
        assert report.editions[0].figures["sent"] == 2000


def test_a_batch_everyone_got_settles_in_one_statement_and_counts_once_when_run_again(runtime):
    """A sent batch with no reader of its own outcome: on PostgreSQL the batch and its
    queued rows are settled and counted by one statement, on SQLite by three; run
    again (its commit's answer lost), the settlement finds itself recorded and counts
    nothing more; another worker's settlement of it changes nothing."""
    from fakes.statements import Statements

    add_subscribers(runtime, 3)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=3)
    with runtime.session() as session:
        batch_id = session.scalar(select(Batch.id))
        assert claim_batch(session, batch_id, "w:1:1", now=NOW)
        with Statements(runtime.engine) as recorded:
            assert settle_batch(session, batch_id, "w:1:1", Settlement(BatchStatus.SENT, message_id="m1"), now=NOW)
        assert len(recorded.statements) == (1 if runtime.engine.dialect.name == "postgresql" else 3), recorded.statements
        assert settle_batch(session, batch_id, "w:1:1", Settlement(BatchStatus.SENT, message_id="m1"), now=NOW)
        assert not settle_batch(session, batch_id, "v:2:2", Settlement(BatchStatus.SENT, message_id="m2"), now=NOW)
        assert sent_counters(session) == [(EDITION, "", 3)]
        assert session.execute(select(Batch.status, Batch.provider_message_id, Batch.sent_at)).one() == (
            BatchStatus.SENT, "m1", NOW)
        assert session.execute(select(Delivery.status, Delivery.sent_at).distinct()).all() == [(DeliveryStatus.SENT, NOW)]
