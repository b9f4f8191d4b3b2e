"""A batch's body as the send path reads it: returned by the claim that builds the batch's
emails (html and text as the compressed bytes they are stored as), then decompressed, the
same on SQLite and PostgreSQL; a pruned body is refused by name."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import update

from digest.content import RenderedEmail
from digest.deliver.ledger import claim_batch, get_or_create_edition
from digest.deliver.plan.rows import store_body
from digest.deliver.recipients import BodyPruned, stored_email
from digest.models import Batch, RenderedBody

BODY = RenderedEmail("Your digest · 7 Dec", "Gold, oil", '<p>é <a href="%%unsubscribe_url%%">leave</a></p>',
                     "é leave: %%unsubscribe_url%% %%email%%", frozenset({"unsubscribe_url", "email"}))


def test_the_body_a_claim_returns_reads_back_as_it_was_rendered_and_a_pruned_one_is_refused(runtime):
    """The claim that builds a batch's emails returns its body's stored columns (the body's
    own SELECT was a round trip a batch): the same body, the same refusal when pruned."""
    with runtime.session() as session:
        body_id = store_body(session, BODY)
        edition_id = get_or_create_edition(session, date(2026, 12, 7)).id
        batches = [Batch(edition_id=edition_id, number=n, body_id=body_id, status="pending") for n in (1, 2)]
        session.add_all(batches)
        session.commit()
        first, second = (b.id for b in batches)
    with runtime.engine.connect() as conn:
        claimed = claim_batch(conn, first, "w:1:1", provider="sendgrid")
        assert stored_email(body_id, *claimed.stored_body) == BODY
        assert claim_batch(conn, second, "w:1:1").stored_body is None  # a claim that builds no emails reads no body
    with runtime.session() as session:
        session.execute(update(RenderedBody).values(html=None, text=None,
                                                    pruned_at=datetime(2026, 12, 1, tzinfo=timezone.utc)))
        session.execute(update(Batch).values(status="pending"))
        session.commit()
    with runtime.engine.connect() as conn:
        claimed = claim_batch(conn, first, "w:1:2", provider="sendgrid")
        with pytest.raises(BodyPruned, match=f"body {body_id} was pruned on 2026-12-01"):
            stored_email(body_id, *claimed.stored_body)
