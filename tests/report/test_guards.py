"""Must show (issue 22): complaints pass 0.3% mid-edition: no new batch starts after the
counter crosses, the next edition waits, ``digest status`` says why, and
``digest resume --force`` lets both go on."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.models import Batch, Briefing, Delivery, GuardTrip, Topic
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings
from digest.web.sendgrid_events import record_events

from fakes.edition_seed import seed_edition
from fakes.fixtures import TEST_API_KEY, fake_sendgrid  # noqa: F401  (fixture)

#: Five topic sets of 100 readers: five bodies, five batches of 100.
TOPIC_SETS = (("lithium",), ("gold",), ("silver",), ("copper",), ("uranium",))
HELD = "spam complaints over the last 7 days are 2.00% (2 of 100 delivered), over the 0.3% limit"


@pytest.fixture
def env(db_url, tmp_path, fake_sendgrid, monkeypatch):
    values = {
        "DIGEST_CONFIG": str(bundled_config_path()), "DATABASE_URL": db_url, "DIGEST_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": TEST_API_KEY, "SENDGRID_API_HOST": fake_sendgrid.url,
        "DIGEST_OUTBOX": str(tmp_path / "outbox"), "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
        "DIGEST_BASE_URL": "https://digest.test",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def add_news(runtime: Runtime) -> None:
    """A new briefing in every topic, so the next edition has something for everyone."""
    now = datetime.now(timezone.utc)
    with runtime.session() as session:
        for slug, topic in {t.slug: t for t in session.scalars(select(Topic))}.items():
            if (slug,) in TOPIC_SETS:
                session.add(Briefing(
                    guid=f"next-{slug}", url=f"https://ridgeline.example/b/next-{slug}", title=f"More {slug}",
                    body_html="<p>More news.</p>", excerpt="More news.", author="A. Writer", published_at=now,
                    attribution="Information for this briefing was found via a company news release.",
                    author_disclosure="The author holds no position in the companies named.",
                    content_hash=hashlib.sha256(slug.encode()).hexdigest(), topics=[topic]))


def batches_by_status(runtime: Runtime) -> dict[str, int]:
    with runtime.session() as session:
        statuses = session.scalars(select(Batch.status)).all()
    return {status: statuses.count(status) for status in set(statuses)}


def test_complaints_past_the_limit_mid_edition_hold_sending_until_resumed(env, fake_sendgrid):
    settings = load_settings(env)
    seed_edition(settings, 500, topic_sets=TOPIC_SETS)
    runtime = Runtime.open(settings)
    today = datetime.now(timezone.utc).date()
    first_request: list[str] = []

    def events_arrive(addresses: list[str]) -> None:
        """While the second batch is being sent, SendGrid reports on the first: all 100
        delivered, 2 marked as spam (2%)."""
        if not first_request:
            first_request.extend(addresses)
            return
        if len(fake_sendgrid.posted) != 1:
            return
        with runtime.session() as session:
            rows = session.execute(select(Delivery.edition_id, Delivery.subscriber_id, Delivery.email)
                                   .where(Delivery.email.in_(first_request))).all()
        stamp = int(datetime.now(timezone.utc).timestamp())
        events = [{"sg_event_id": f"d{s}", "event": "delivered", "email": e, "timestamp": stamp,
                   "edition_id": str(ed), "subscriber_id": str(s)} for ed, s, e in rows]
        events += [{**event, "sg_event_id": f"s{n}", "event": "spamreport"} for n, event in enumerate(events[:2])]
        record_events(runtime, events)

    fake_sendgrid.on_request = events_arrive
    try:
        sent = CliRunner().invoke(main, ["send", "--date", today.isoformat()])
        assert sent.exit_code == 1, sent.output
        assert f"a guard holds sending: {HELD}" in sent.output
        # The second batch was already on its way; none started after the counter crossed.
        assert len(fake_sendgrid.posted) == 2 and len(fake_sendgrid.delivered) == 200
        assert batches_by_status(runtime) == {"sent": 2, "pending": 3}
        with runtime.session() as session:
            [trip] = session.execute(select(GuardTrip.guard, GuardTrip.reason, GuardTrip.released_at)).all()
        assert tuple(trip) == ("complaint-rate", HELD, None)

        add_news(runtime)
        tomorrow = (today + timedelta(days=1)).isoformat()
        next_edition = CliRunner().invoke(main, ["send", "--date", tomorrow])
        assert next_edition.exit_code == 1 and HELD in next_edition.output, next_edition.output
        assert len(fake_sendgrid.posted) == 2  # the next edition waits: planned, nothing sent
        assert batches_by_status(runtime)["pending"] > 3

        status = CliRunner().invoke(main, ["status"])
        assert status.exit_code == 0, status.output
        assert f"! sending is held: {HELD}." in status.output
        report = CliRunner().invoke(main, ["report", "--date", today.isoformat(), "--format", "json"])
        assert json.loads(report.output)["held"] == HELD
        table = CliRunner().invoke(main, ["report", "--date", today.isoformat()]).output.splitlines()
        assert table[2] == f"! sending is held: {HELD} ('digest resume --force' releases it)"

        assert CliRunner().invoke(main, ["resume"]).exit_code == 2  # not without --force
        resumed = CliRunner().invoke(main, ["resume", "--force"])
        assert resumed.exit_code == 0 and resumed.output == f"released: {HELD}\n"
        again = CliRunner().invoke(main, ["send", "--date", today.isoformat()])
        assert again.exit_code == 0, again.output
        assert len(fake_sendgrid.delivered) == 500
        assert "sending is held" not in CliRunner().invoke(main, ["status"]).output
        report = CliRunner().invoke(main, ["report", "--date", today.isoformat(), "--format", "json"])
        assert json.loads(report.output)["held"] is None
    finally:
        runtime.close()


def test_an_edition_with_hard_bounces_past_5_percent_is_held(runtime):
    from digest.report.guards import held_reason
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    day = int(now.timestamp())
    events = [{"sg_event_id": f"d{n}", "event": "delivered", "timestamp": day, "edition_id": "4",
               "subscriber_id": str(n)} for n in range(1, 95)]
    record_events(runtime, events)
    with runtime.engine.connect() as conn:
        assert held_reason(conn, 4, now) is None  # 94 outcomes: too few to judge
    record_events(runtime, [{**e, "sg_event_id": f"b{n}", "event": "bounce", "type": "bounce",
                             "subscriber_id": str(200 + n)} for n, e in enumerate(events[:6])])
    with runtime.engine.connect() as conn:
        assert held_reason(conn, 4, now) == ("hard bounces of edition 4 are 6.00% (6 of 100 with an outcome), over "
                                             "the 5.0% limit: check the last import of subscribers")
        assert held_reason(conn, 5, now).startswith("hard bounces of edition 4")  # held for every edition


def test_the_limits_come_from_the_config(runtime):
    from digest.report.guards import held_reason
    from digest.settings import Guards
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    events = [{"sg_event_id": f"d{n}", "event": "delivered", "timestamp": int(now.timestamp()), "edition_id": "4",
               "subscriber_id": str(n)} for n in range(1, 11)]
    record_events(runtime, events + [{**events[0], "sg_event_id": "s1", "event": "spamreport"}])
    with runtime.engine.connect() as conn:
        assert held_reason(conn, 4, now) is None  # 10 delivered: under the default 100 readers
        assert held_reason(conn, 4, now, Guards(complaint_rate=0.2, min_readers=10)) is None  # 10% <= 20%
        assert held_reason(conn, 4, now, Guards(complaint_rate=0.05, min_readers=10)) == (
            "spam complaints over the last 7 days are 10.00% (1 of 10 delivered), over the 5.0% limit")


def test_held_reason_reads_in_one_statement_and_a_released_guard_stays_released(runtime):
    """It runs before every batch: one statement when nothing holds sending. A released
    hard-bounce guard is not tripped again for that edition (its readers are what they are)."""
    from sqlalchemy import event

    from digest.report.guards import held_reason, release
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    day = int(now.timestamp())
    delivered = [{"sg_event_id": f"d{n}", "event": "delivered", "timestamp": day, "edition_id": "4",
                  "subscriber_id": str(n)} for n in range(1, 101)]
    record_events(runtime, delivered + [{**e, "sg_event_id": f"b{n}", "event": "bounce", "type": "bounce",
                                         "subscriber_id": str(200 + n)} for n, e in enumerate(delivered[:7])])
    statements: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with runtime.engine.connect() as conn:
        assert held_reason(conn, 5, now) is None  # edition 5 has no outcomes
        assert len(statements) == 1
        tripped = held_reason(conn, 4, now)
        assert tripped.startswith("hard bounces of edition 4 are 6.54% (7 of 107 with an outcome)")
        assert held_reason(conn, 5, now) == tripped  # held for every edition
        assert release(conn, now) == [tripped]
        conn.commit()
        statements.clear()
        assert held_reason(conn, 4, now) is None  # released: not tripped again for edition 4
        assert len(statements) == 1
