"""A claim that builds a batch's emails reads what the guards judge in its own statement
(no statement of its own per batch), and the verdict from it is :func:`held_reason`'s."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from digest.deliver.batch import Sender, send_batch
from digest.deliver.ledger import claim_batch, get_or_create_edition
from digest.deliver.plan import plan_edition
from digest.deliver.run import EditionRun
from digest.models import Batch, EditionCounter
from digest.report.guards import held_reason, held_verdict
from fakes.statements import Statements

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, add_subscribers

HELD = ("hard bounces of edition {e} are 6.00% (6 of 100 with an outcome), over the 5.0% limit: "
        "check the last import of subscribers")


def planned(runtime) -> tuple[int, list[int]]:
    add_subscribers(runtime, 4)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(), max_recipients=2)
    with runtime.session() as session:
        return edition.id, list(session.scalars(select(Batch.id).order_by(Batch.id)))


def bounces(runtime, edition_id: int, bounced: int) -> None:
    day = datetime.now(timezone.utc).date()
    with runtime.session() as session:
        session.add_all([EditionCounter(edition_id=edition_id, day=day, figure="delivered", item="", count=100 - bounced),
                         EditionCounter(edition_id=edition_id, day=day, figure="bounced", item="", count=bounced)])
        session.commit()


def test_the_claim_reads_the_guards_state_and_the_verdict_is_held_reasons(runtime):
    edition_id, (first, second) = planned(runtime)
    bounces(runtime, edition_id, 6)
    now = datetime.now(timezone.utc)
    with runtime.engine.connect() as conn:
        claimed = claim_batch(conn, first, "w:1:1", now=now, commit=False, provider="sendgrid")
        assert (claimed.held_state.bounced, claimed.held_state.delivered, claimed.held_state.active_reason) == (6, 94, None)
        assert held_verdict(conn, edition_id, claimed.held_state, now) == HELD.format(e=edition_id)
        assert held_reason(conn, edition_id, now) == HELD.format(e=edition_id)  # tripped by the verdict: held now
        assert claim_batch(conn, second, "w:1:1", now=now).held_state is None  # a claim to record a failure reads none


def test_a_batch_sent_reads_no_guard_statement_of_its_own(runtime, provider):
    edition_id, (first, _) = planned(runtime)
    with Statements(runtime.engine) as recorded:
        outcome = send_batch(Sender.open(runtime, provider), first)
    assert (outcome.status, outcome.sent) == ("sent", 2)
    guarded = [sql for sql in recorded.statements if "guard_trips" in sql]
    assert len(guarded) == 1 and guarded[0].startswith("UPDATE batches")
