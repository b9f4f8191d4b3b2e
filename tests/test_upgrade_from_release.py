"""A database made by the first release is upgraded by ``digest db upgrade``, keeping every row.

The first release (``b55fe2f``) created its schema with migration 0001, which is never
edited. This test builds that schema (``alembic upgrade 0001``), writes one row in every
table with plain SQL (not through today's models, so it holds whatever revisions come
later), runs the real ``digest db upgrade`` command to head, and checks each row is still
there with its values, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import date
import zlib

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from digest import db
from digest.cli import main
from digest.deliver.recipients import queued_recipients
from digest.models import RenderedBody
from digest.review.audit import audit_reader
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings

#: One row per table of revision 0001, parents first. Timestamps are written in each
#: dialect's own literal form ({ts}); booleans as TRUE/FALSE (both dialects take them).
SEED = [
    "INSERT INTO topics (id, slug, title) VALUES (1, 'gold', 'Gold')",
    "INSERT INTO sources (id, key, name, kind, etag, last_fetched_at) "
    "VALUES (1, 'https://feeds.example/wp', 'Example WP', 'wordpress', 'W/\"1\"', {ts})",
    "INSERT INTO briefings (id, source_id, guid, url, title, body_html, excerpt, author, attribution, "
    "author_disclosure, published_at, is_sponsored, is_editor_pick, sponsor_payer, content_hash, created_at, "
    "updated_at) "
    "VALUES (1, 1, 'guid-1', 'https://example.com/b/1', 'Gold climbs', '<p>Body</p>', 'Gold climbs again', 'Ann', "
    "'Information for this briefing was found via Example', 'none', {ts}, TRUE, FALSE, 'Acme Mining', "
    "'0123456789abcdef', {ts}, {ts})",
    "INSERT INTO briefing_topics (briefing_id, topic_id) VALUES (1, 1)",
    "INSERT INTO videos (id, source_id, guid, url, title, description, thumbnail_url, published_at, content_hash, "
    "created_at, updated_at) VALUES (1, 1, 'yt:1', 'https://video.example/1', 'Gold on video', 'About gold', "
    "'https://video.example/1.jpg', {ts}, 'fedcba9876543210', {ts}, {ts})",
    "INSERT INTO video_topics (video_id, topic_id) VALUES (1, 1)",
    "INSERT INTO subscribers (id, email, status, timezone, send_hour, consent_source, consented_at, last_digest_at, "
    "status_changed_at, created_at, updated_at) VALUES (1, 'reader@example.com', 'active', 'Europe/London', 6, "
    "'signup form', {ts}, {ts}, {ts}, {ts}, {ts})",
    "INSERT INTO subscriber_topics (subscriber_id, topic_id) VALUES (1, 1)",
    "INSERT INTO editions (id, date, slot, created_at) VALUES (1, '2026-11-27', 'daily', {ts})",
    "INSERT INTO rendered_bodies (id, fingerprint, subject, preheader, html, text, created_at) "
    "VALUES (1, 'fp-1', 'Your digest', 'Gold climbs', '<html></html>', 'text', {ts})",
    "INSERT INTO batches (id, edition_id, number, body_id, status, attempts, readers_recorded, provider, "
    "provider_message_id, sent_at, created_at) VALUES (1, 1, 1, 1, 'sent', 1, TRUE, 'sendgrid', 'msg-1', {ts}, {ts})",
    "INSERT INTO deliveries (id, edition_id, batch_id, subscriber_id, status, timezone, email, sent_at, created_at) "
    "VALUES (1, 1, 1, 1, 'sent', 'Europe/London', 'reader@example.com', {ts}, {ts})",
    "INSERT INTO leases (name, holder, expires_at) VALUES ('scheduler', 'vm:1:2', {ts})",
    "INSERT INTO provider_events (id, provider, event_id, event, email, payload, received_at) "
    "VALUES (1, 'sendgrid', 'evt-1', 'bounce', 'reader@example.com', '{{\"reason\": \"550\"}}', {ts})",
]

#: What must read back after the upgrade: (query, the row as seeded).
KEPT = [
    ("SELECT id, slug, title FROM topics", [(1, "gold", "Gold")]),
    ("SELECT id, key, name, kind FROM sources", [(1, "https://feeds.example/wp", "Example WP", "wordpress")]),
    ("SELECT id, source_id, guid, url, title, excerpt, author, sponsor_payer FROM briefings",
     [(1, 1, "guid-1", "https://example.com/b/1", "Gold climbs", "Gold climbs again", "Ann", "Acme Mining")]),
    ("SELECT briefing_id, topic_id FROM briefing_topics", [(1, 1)]),
    ("SELECT id, guid, url, title, thumbnail_url FROM videos",
     [(1, "yt:1", "https://video.example/1", "Gold on video", "https://video.example/1.jpg")]),
    ("SELECT video_id, topic_id FROM video_topics", [(1, 1)]),
    ("SELECT id, email, status, timezone, send_hour, consent_source FROM subscribers",
     [(1, "reader@example.com", "active", "Europe/London", 6, "signup form")]),
    ("SELECT subscriber_id, topic_id FROM subscriber_topics", [(1, 1)]),
    ("SELECT id, slot FROM editions", [(1, "daily")]),
    ("SELECT id, fingerprint, subject FROM rendered_bodies", [(1, "fp-1", "Your digest")]),
    ("SELECT id, edition_id, number, body_id, status, provider_message_id FROM batches",
     [(1, 1, 1, 1, "sent", "msg-1")]),
    ("SELECT id, edition_id, batch_id, subscriber_id, status, email FROM deliveries",
     [(1, 1, 1, 1, "sent", "reader@example.com")]),
    ("SELECT name, holder FROM leases", [("scheduler", "vm:1:2")]),
    ("SELECT id, provider, event_id, event, email FROM provider_events",
     [(1, "sendgrid", "evt-1", "bounce", "reader@example.com")]),
]

TIMESTAMP = {"sqlite": "'2026-11-27 10:00:00.000000'", "postgresql": "'2026-11-27 10:00:00+00'"}


@pytest.fixture
def empty_database(db_url, tmp_path):
    """An empty database of the same kind as ``db_url`` (SQLite, then PostgreSQL)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'first-release.db'}"
        return
    name = f"digest_upgrade_{uuid.uuid4().hex[:10]}"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _upgraded(database_url: str, revision: str, seed: list[str]):
    """A database at ``revision`` with the ``seed`` statements' rows (``{ts}``: a timestamp
    in the dialect's own form), then upgraded by the real ``digest db upgrade``; a new engine on it."""
    engine = db.make_engine(database_url)
    db.upgrade(engine, revision)
    with engine.begin() as conn:
        for statement in seed:
            conn.execute(text(statement.format(ts=TIMESTAMP[engine.dialect.name])))
    engine.dispose()

    env = {"DATABASE_URL": database_url, "DIGEST_CONFIG": str(bundled_config_path())}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    return db.make_engine(database_url)


def test_a_first_release_database_is_upgraded_keeping_every_row(empty_database):
    assert SEED and len(KEPT) == 14  # every table of revision 0001 but alembic_version
    engine = _upgraded(empty_database, "0001", SEED)
    env = {"DATABASE_URL": empty_database, "DIGEST_CONFIG": str(bundled_config_path())}
    try:
        assert db.current_revision(engine) == db.head_revision(engine)
        with engine.connect() as conn:
            for query, rows in KEPT:
                assert [tuple(row) for row in conn.execute(text(query))] == rows, query
            # cadence20_frequency: an existing reader is daily and not paused
            assert [tuple(r) for r in conn.execute(text(
                "SELECT frequency, weekday, paused_until, resume_window_start FROM subscribers"))] == [
                ("daily", None, None, None)]
            # report22b_sent: the report's sent figure of earlier editions, from their deliveries
            assert [tuple(r) for r in conn.execute(text(
                "SELECT edition_id, CAST(day AS VARCHAR(10)), figure, item, count FROM edition_counters"))] == [
                (1, "2026-11-27", "sent", "", 1)]
            # sendpath23_counter_shards: an existing counter is its shard 0
            assert [tuple(r) for r in conn.execute(text("SELECT shard FROM edition_counters"))] == [(0,)]
        # review21_snapshots, review21b_controls: the review tables take rows tied to the first release's edition and body
        ts = TIMESTAMP[engine.dialect.name]
        with engine.begin() as conn:
            for statement in (
                "INSERT INTO edition_snapshots (id, edition_id, version, taken_at, fingerprint, briefing_ids, "
                f"video_ids, drafted_by) VALUES (1, 1, 1, {ts}, 'snap-1', '1', '1', 'worker')",
                "INSERT INTO draft_bodies (id, snapshot_id, body_id, topics, readers, html_bytes) "
                "VALUES (1, 1, 1, 'gold', 1, 100)",
                "INSERT INTO edition_approvals (id, edition_id, snapshot_id, fingerprint, approved_by, approved_at) "
                f"VALUES (1, 1, 1, 'snap-1', 'editor', {ts})",
                "INSERT INTO review_proofs (id, snapshot_id, address, topics, subject, sent_at) "
                f"VALUES (1, 1, 'desk@example.com', 'gold', '[Proof] Your digest', {ts})",
                f"INSERT INTO edition_controls (edition_id, held_at, held_by) VALUES (1, {ts}, 'editor')",
            ):
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(text(
                "SELECT s.version, b.subject, a.approved_by, p.address FROM edition_snapshots s "
                "JOIN draft_bodies d ON d.snapshot_id = s.id JOIN rendered_bodies b ON b.id = d.body_id "
                "JOIN edition_approvals a ON a.snapshot_id = s.id JOIN review_proofs p ON p.snapshot_id = s.id"))] == [
                (1, "Your digest", "editor", "desk@example.com")]
            assert [tuple(r) for r in conn.execute(text("SELECT edition_id, held_by FROM edition_controls"))] == [
                (1, "editor")]
            # checklist21_results: a body drafted before drafts were checked has no checklist, an
            # approval before failed no check
            assert [tuple(r) for r in conn.execute(text(
                "SELECT d.checklist, a.failed_checks FROM draft_bodies d JOIN edition_approvals a "
                "ON a.snapshot_id = d.snapshot_id"))] == [(None, None)]
        # tick23_changes: the upgraded database logs schedule changes (the tick's settled windows)
        with engine.begin() as conn:
            logged = conn.execute(text("SELECT count(*) FROM schedule_changes")).scalar()
            conn.execute(text("UPDATE subscribers SET send_hour = 8 WHERE id = 1"))
            conn.execute(text("UPDATE subscribers SET last_digest_at = NULL WHERE id = 1"))  # not a schedule change
            assert [tuple(r) for r in conn.execute(text("SELECT id, email, send_hour FROM subscribers"))] == [
                (1, "reader@example.com", 8)]
            ids = conn.execute(text("SELECT id FROM schedule_changes ORDER BY id")).scalars().all()
        assert logged == 0 and len(ids) == 1
        # sendgrid23_rate_limit: the first release's edition was never rate limited; a reset can be recorded
        with engine.begin() as conn:
            assert [tuple(r) for r in conn.execute(text("SELECT id, rate_limited_until FROM editions"))] == [(1, None)]
            conn.execute(text(f"UPDATE editions SET rate_limited_until = {ts} WHERE id = 1"))
            assert conn.execute(text("SELECT count(*) FROM editions WHERE rate_limited_until IS NOT NULL")).scalar() == 1
        # audit21_bodies: the first release's body is stored compressed and reads back as it was
        with engine.connect() as conn:
            html, body_text, pruned_at = conn.execute(text("SELECT html, text, pruned_at FROM rendered_bodies")).one()
            assert (zlib.decompress(html), zlib.decompress(body_text), pruned_at) == (b"<html></html>", b"text", None)
            assert conn.execute(select(RenderedBody.html, RenderedBody.text)).one() == ("<html></html>", "text")
            assert [tuple(r) for r in conn.execute(text("SELECT id, provider, send_moments FROM batches"))] == [
                (1, "sendgrid", None)]
        # ... and its reader's email is rebuilt (dated by the batch's settling: no send moment was recorded then)
        settings = load_settings(env | {"DIGEST_SECRET_KEY": "upgrade-secret-key-0123"})
        audit = audit_reader(Runtime(settings, engine, db.make_session_factory(engine)), "reader@example.com",
                             date(2026, 11, 27))
        assert audit.html == "<html></html>" and audit.email is not None
        assert [w for w in audit.warnings if "sent before send moments were recorded" in w]
        # nofk23_subscriber_key: the ledger's subscriber is no foreign key (its row kept, above), and
        # the table's trigger (rebuilt on SQLite) still logs a deleted row as a schedule change
        assert inspect(engine).get_foreign_keys("deliveries") == []
        # countersidx23_own_figures: the guards' index of the editions' own figures (the counter row kept, above)
        assert [(i["column_names"], i["unique"]) for i in inspect(engine).get_indexes("edition_counters")
                if i["name"] == "ix_edition_counters_own_figure_day"] == [(["figure", "day"], False)]
        # ledgerindex23_edition_key: the ledger keyed edition first, no index on the edition alone
        # (the delivery row kept, above; the trigger, rebuilt with the table on SQLite, below)
        assert [c["column_names"] for c in inspect(engine).get_unique_constraints("deliveries")] == [
            ["edition_id", "subscriber_id"]]
        assert [i["name"] for i in inspect(engine).get_indexes("deliveries") if not i["unique"]] == ["ix_deliveries_batch_id"]
        with engine.begin() as conn:
            before = conn.execute(text("SELECT max(id) FROM schedule_changes")).scalar()
            conn.execute(text("DELETE FROM deliveries WHERE id = 1"))
            assert conn.execute(text("SELECT max(id) FROM schedule_changes")).scalar() > before
    finally:
        engine.dispose()


def test_a_batch_planned_before_departures_were_recorded_still_leaves_out_a_reader_who_left(empty_database):
    """left23_departures: readers who had left get ``left_xid`` 0 (PostgreSQL's trigger
    stamps later departures); a batch planned before it has no ``plan_xmin`` and is checked
    against every reader who left, so a reader who leaves after the upgrade is not sent."""
    engine = _upgraded(empty_database, "ledgerindex23_edition_key", [
        "INSERT INTO subscribers (id, email, status, timezone, send_hour, created_at, updated_at) VALUES "
        "(1, 'stays@example.com', 'active', 'UTC', 7, {ts}, {ts}), "
        "(2, 'leaves@example.com', 'active', 'UTC', 7, {ts}, {ts}), "
        "(3, 'left@example.com', 'unsubscribed', 'UTC', 7, {ts}, {ts})",
        "INSERT INTO editions (id, date, slot, created_at) VALUES (1, '2026-12-07', 'daily', {ts})",
        "INSERT INTO rendered_bodies (id, fingerprint, subject, preheader, created_at) VALUES (1, 'fp-1', 's', 'p', {ts})",
        "INSERT INTO batches (id, edition_id, number, body_id, status, attempts, readers_recorded, "
        "readers_in_doubt, created_at) VALUES (1, 1, 1, 1, 'pending', 0, FALSE, FALSE, {ts})",
        "INSERT INTO deliveries (id, edition_id, batch_id, subscriber_id, status, timezone, email, created_at) VALUES "
        "(1, 1, 1, 1, 'queued', 'UTC', 'stays@example.com', {ts}), "
        "(2, 1, 1, 2, 'queued', 'UTC', 'leaves@example.com', {ts})",
    ])
    try:
        on_postgresql = engine.dialect.name == "postgresql"
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(text("SELECT id, left_xid FROM subscribers ORDER BY id"))] == [
                (1, None), (2, None), (3, 0 if on_postgresql else None)]
            assert [tuple(r) for r in conn.execute(text("SELECT id, plan_xmin FROM batches"))] == [(1, None)]
        with engine.begin() as conn:
            conn.execute(text("UPDATE subscribers SET status = 'unsubscribed' WHERE id = 2"))
        with engine.begin() as conn:
            assert queued_recipients(conn, 1) == ([(1, 1, "stays@example.com", "UTC")], 1)
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(text(
                "SELECT id, status, skip_reason FROM deliveries ORDER BY id"))] == [
                (1, "queued", None), (2, "skipped", "suppressed")]
            if on_postgresql:  # stamped by the upgraded database's trigger
                assert conn.execute(text("SELECT left_xid > 0 FROM subscribers WHERE id = 2")).scalar() is True
    finally:
        engine.dispose()
