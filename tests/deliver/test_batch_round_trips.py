"""What one sent batch asks of PostgreSQL, round trip by round trip: its claim (which
returns its body too), its readers and its settlement, each committed as it runs (no
BEGIN or COMMIT of their own: at 1,000 batches an edition, 4,000 round trips fewer and
about 0.5 ms of the two sides' CPU a batch); and a claim run again counts one attempt."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from digest.deliver.batch import Sender, send_batch
from digest.deliver.ledger import claim_batch, get_or_create_edition
from digest.deliver.ledger.connection import LedgerConnection
from digest.deliver.plan import plan_edition
from digest.deliver.recipients import DatedBodies
from digest.deliver.run import EditionRun
from digest.models import Batch, BatchStatus, Delivery, DeliveryStatus
from fakes.statements import sent_to_server

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, add_subscribers


def _planned(runtime, readers: int, per_batch: int) -> list[int]:
    add_subscribers(runtime, readers)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(),
                 max_recipients=per_batch)
    with runtime.session() as session:
        return list(session.scalars(select(Batch.id).order_by(Batch.id)))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # round trips: the server's protocol
def test_a_sent_batch_is_three_statements_and_no_transaction_commands(runtime, provider, monkeypatch, tmp_path):
    from digest.deliver import recipients

    monkeypatch.setattr(recipients, "_dated_bodies", DatedBodies())  # its body not read yet in this process
    first, second = _planned(runtime, 4, 2)
    sender = Sender.open(runtime, provider)
    with LedgerConnection(runtime.engine, what="test") as ledger:
        sent = sent_to_server(ledger.connection, lambda: send_batch(sender, first, ledger), tmp_path / "1.txt")
        again = sent_to_server(ledger.connection, lambda: send_batch(sender, second, ledger), tmp_path / "2.txt")
    # The claim with the body (an UPDATE), the readers (a SELECT), the settlement (a WITH of UPDATEs).
    assert sent == ["UPDATE", "SELECT", "WITH"]
    assert again == ["UPDATE", "SELECT", "WITH"]  # the same body: kept by the process
    with runtime.session() as session:
        assert set(session.scalars(select(Batch.status))) == {BatchStatus.SENT}
        assert list(session.scalars(select(Delivery.status))) == [DeliveryStatus.SENT] * 4
    assert sum(len(batch.recipients) for batch in provider.sent) == 4


def test_a_claim_run_again_counts_one_attempt(runtime):
    """Run again with its own stamp (its commit's answer was lost, or preparing the batch
    failed after it), a claim finds itself and counts nothing more."""
    [batch_id] = _planned(runtime, 2, 2)
    with runtime.engine.connect() as conn:
        assert claim_batch(conn, batch_id, "w:1:1", now=NOW, provider="sendgrid") is not None
        assert claim_batch(conn, batch_id, "w:1:1", now=NOW, provider="sendgrid") is not None
        assert claim_batch(conn, batch_id, "w:1:1", now=NOW) is not None
        assert claim_batch(conn, batch_id, "w:2:2", now=NOW) is None  # another's stamp: not its own
    with runtime.session() as session:
        assert session.execute(select(Batch.status, Batch.attempts)).one() == (BatchStatus.SENDING, 1)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # psycopg's own parse of each statement
def test_a_sent_batch_has_each_statement_parsed_once_per_process(runtime, provider, monkeypatch):
    """psycopg keeps its parse of a statement (placeholders to ``$n``) only for statements
    of at most 4,096 bytes and 50 parameters, and parses any other again at every run: the
    claim was 4,198 bytes (89 us of CPU a batch). No statement of a sent batch is."""
    import psycopg._queries

    from digest.deliver import recipients

    monkeypatch.setattr(recipients, "_dated_bodies", DatedBodies())
    uncached = []
    parse = psycopg._queries._query2pg_nocache
    monkeypatch.setattr(psycopg._queries, "_query2pg_nocache",
                        lambda query, *args, **kwargs: uncached.append(query) or parse(query, *args, **kwargs))
    first, second = _planned(runtime, 4, 2)
    uncached.clear()  # planning's own multi-row INSERTs are not the send path
    sender = Sender.open(runtime, provider)
    with LedgerConnection(runtime.engine, what="test") as ledger:
        send_batch(sender, first, ledger)
        send_batch(sender, second, ledger)
    assert [q[:40] for q in uncached] == []
    with runtime.session() as session:
        assert list(session.scalars(select(Delivery.status))) == [DeliveryStatus.SENT] * 4
