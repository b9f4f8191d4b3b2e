"""Bodies are pruned after ``[review] keep_bodies``: exactly those no edition younger than
it uses (by a batch or a draft) and not themselves younger; a pruned body's audit says
so (and its web version is a 404), and rendering it again brings its content back. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from starlette.testclient import TestClient
from sqlalchemy import select

from digest.cli import main
from digest.content import RenderedEmail
from digest.deliver.plan.rows import store_body
from digest.links import LinkMaker
from digest.models import (
    Batch, Delivery, DraftBody, Edition, EditionSnapshot, RenderedBody, Subscriber,
)
from digest.review.audit import audit_reader
from digest.review.prune import prune_bodies
from digest.settings import bundled_config_path
from digest.web import create_app

KEEP = timedelta(days=400)


def _body(n: int, created_at: datetime, pruned_at: datetime | None = None) -> RenderedBody:
    return RenderedBody(id=n, fingerprint=f"{n:064x}", subject=f"Digest {n}", preheader="",
                        html=f"<p>body {n}</p>", text=f"body {n}", created_at=created_at, pruned_at=pruned_at)


def test_pruning_keeps_and_empties_exactly_the_bodies_worked_out_by_hand(runtime):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    cutoff_day = (now - KEEP).date()  # an edition of this date is not younger than keep_bodies
    long_ago = now - timedelta(days=500)
    with runtime.session() as session:
        editions = {
            "old": Edition(id=1, date=cutoff_day - timedelta(days=30)),
            "edge": Edition(id=2, date=cutoff_day),
            "young": Edition(id=3, date=cutoff_day + timedelta(days=1)),
            "drafted": Edition(id=4, date=now.date()),
        }
        session.add_all(editions.values())
        session.add_all([
            _body(1, long_ago),  # only the old edition's: pruned
            _body(2, long_ago),  # the old and the young edition's: kept
            _body(3, long_ago),  # only the edge edition's: pruned
            _body(4, long_ago),  # nobody's: pruned
            _body(5, now - timedelta(days=5)),  # nobody's, but recent: kept
            _body(6, long_ago),  # a draft of today's edition: kept
            _body(7, long_ago, pruned_at=now - timedelta(days=10)),  # pruned before: left as it is
        ])
        session.flush()
        for number, (edition, body) in enumerate([("old", 1), ("old", 2), ("young", 2), ("edge", 3), ("old", 7)], 1):
            session.add(Batch(id=number, edition_id=editions[edition].id, number=number, body_id=body, status="sent"))
        session.add(EditionSnapshot(id=1, edition_id=4, version=1, taken_at=now, fingerprint="f" * 64,
                                    drafted_by="worker"))
        session.flush()
        session.add(DraftBody(snapshot_id=1, body_id=6, topics="gold", readers=1, html_bytes=10))
        session.add(Subscriber(id=1, email="reader@example.com", status="active", timezone="UTC", send_hour=7,
                               consent_source="test", consented_at=long_ago))
        session.flush()
        session.add(Delivery(edition_id=1, subscriber_id=1, batch_id=1, status="sent", timezone="UTC",
                             email="reader@example.com", sent_at=long_ago))

    with runtime.sessions() as session:
        assert prune_bodies(session, KEEP, now) == 3
        assert prune_bodies(session, KEEP, now) == 0  # nothing left to prune
    with runtime.session() as session:
        rows = {b.id: (b.html, b.text, b.pruned_at) for b in session.scalars(select(RenderedBody))}
    assert rows == {
        1: (None, None, now),
        2: ("<p>body 2</p>", "body 2", None),
        3: (None, None, now),
        4: (None, None, now),
        5: ("<p>body 5</p>", "body 5", None),
        6: ("<p>body 6</p>", "body 6", None),
        7: ("<p>body 7</p>", "body 7", now - timedelta(days=10)),
    }

    audit = audit_reader(runtime, "reader@example.com", cutoff_day - timedelta(days=30))
    assert audit.email is None
    assert audit.reason == (f"reader@example.com: the email of {cutoff_day - timedelta(days=30)} cannot be rebuilt: "
                            f"its body was pruned on {now:%Y-%m-%d} ([review] keep_bodies); it was sha256 {1:064x}")

    # Its web version ("view in browser") is gone too: the archive's 404 page, not an error.
    links = LinkMaker(runtime.settings.base_url, runtime.settings.require_secret_key())
    with TestClient(create_app(runtime)) as client:
        for body_id, status in ((1, 404), (2, 200)):
            path = links.archive_url(1, body_id).removeprefix(runtime.settings.base_url)
            assert client.get(path).status_code == status

    # The same content rendered again (a new edition): the row gets its content back.
    rendered = RenderedEmail("Digest 1", "", "<p>body 1</p>", "body 1", frozenset())
    with runtime.session() as session:
        body = session.get(RenderedBody, 1)
        body.fingerprint = rendered.fingerprint  # as if body 1 had been stored from this content
    with runtime.session() as session:
        assert store_body(session, rendered) == 1
    with runtime.session() as session:
        body = session.get(RenderedBody, 1)
        assert (body.html, body.text, body.pruned_at) == ("<p>body 1</p>", "body 1", None)


def test_digest_db_prune_bodies(runtime, tmp_path):
    long_ago = datetime.now(timezone.utc) - timedelta(days=500)
    with runtime.session() as session:
        session.add_all([_body(1, long_ago), _body(2, datetime.now(timezone.utc))])
    env = {"DATABASE_URL": runtime.settings.database_url, "DIGEST_CONFIG": str(bundled_config_path())}
    result = CliRunner().invoke(main, ["db", "prune-bodies"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output == "pruned 1 body(ies) no edition of the last 400 days uses ([review] keep_bodies)\n"
    with runtime.session() as session:
        assert [b.id for b in session.scalars(select(RenderedBody).where(RenderedBody.pruned_at.is_(None)))] == [2]
