"""Storing a planner's new bodies: several per INSERT, each body's id by its content."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event, select, update

from digest.content import RenderedEmail
from digest.deliver.plan import rows
from digest.deliver.plan.rows import store_bodies, store_body
from digest.models import RenderedBody


def _email(n: int) -> RenderedEmail:
    return RenderedEmail(f"Digest {n}", "", f"<p>body {n}</p>", f"body {n}", frozenset())


def test_new_stored_and_pruned_bodies_get_their_ids_in_one_insert_per_chunk(runtime, monkeypatch):
    a, b, c, d = (_email(n) for n in (1, 2, 3, 4))
    with runtime.session() as session:  # c and d stored by an earlier plan; d pruned since
        assert (store_body(session, c), store_body(session, d)) == (1, 2)
        session.execute(update(RenderedBody).where(RenderedBody.id == 2)
                        .values(html=None, text=None, pruned_at=datetime.now(timezone.utc)))

    monkeypatch.setattr(rows, "BODIES_PER_STATEMENT", 2)
    statements: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement.split()[0]))
    with runtime.session() as session:
        ids = store_bodies(session, [a, b, b, c, d])  # b twice: one row

    # a and b new (3, 4); c found as it was (1); d's row given its content back (2).
    assert ids == {a.fingerprint: 3, b.fingerprint: 4, c.fingerprint: 1, d.fingerprint: 2}
    # Four distinct bodies, two per INSERT; c, stored and not pruned, is found by one SELECT.
    assert statements == ["INSERT", "INSERT", "SELECT"]
    with runtime.session() as session:
        stored = session.execute(select(RenderedBody.id, RenderedBody.subject, RenderedBody.html, RenderedBody.text,
                                        RenderedBody.pruned_at).order_by(RenderedBody.id)).all()
    assert [tuple(row) for row in stored] == [
        (1, "Digest 3", "<p>body 3</p>", "body 3", None),
        (2, "Digest 4", "<p>body 4</p>", "body 4", None),
        (3, "Digest 1", "<p>body 1</p>", "body 1", None),
        (4, "Digest 2", "<p>body 2</p>", "body 2", None),
    ]
