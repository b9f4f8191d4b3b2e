"""A consent record for each change a reader makes on the pages (unsubscribe, preferences)
and for each line an import adds or updates (the file and its basis of consent)."""

from __future__ import annotations

from datetime import datetime, timezone

from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.models import ConsentRecord, Subscriber
from digest.settings import bundled_config_path
from web_helpers import add_subscriber, path_of


def records(runtime) -> list[tuple]:
    with runtime.session() as session:
        return [(r.subscriber_id, r.event, r.client_ip, r.user_agent, r.source, r.wording)
                for r in session.scalars(select(ConsentRecord).order_by(ConsentRecord.id))]


def test_preferences_and_unsubscribe_are_recorded(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "reader@example.com")
    agent = {"User-Agent": "Reader Browser/3.0"}
    saved = client.post(path_of(links.preferences_url(sid)), headers=agent, data={
        "action": "save", "topics": ["silver", "gold"], "timezone": "Europe/Paris", "send_hour": "8"})
    assert saved.status_code == 200
    client.post(path_of(links.unsubscribe_url(sid)), headers=agent, content=b"List-Unsubscribe=One-Click")
    client.post(path_of(links.unsubscribe_url(sid)), content=b"List-Unsubscribe=One-Click")  # a repeat: no row
    assert records(web_runtime) == [
        (sid, "preferences", "testclient", "Reader Browser/3.0", "preferences page",
         "topics: gold, silver; time zone: Europe/Paris; hour: 08:00"),
        (sid, "unsubscribe", "testclient", "Reader Browser/3.0", "one-click unsubscribe link", None),
    ]


def test_an_import_records_each_line_it_adds_or_updates(db_url, web_runtime, tmp_path):
    add_subscriber(web_runtime, "same@example.com", topics=("gold",), timezone="UTC", send_hour=7)
    csv = tmp_path / "spring-list.csv"
    csv.write_text("email,topics,timezone,send_hour,consented_at\n"
                   "new@example.com,gold,UTC,7,2026-03-01\n"
                   "same@example.com,gold,UTC,9,\n")
    env = {"DATABASE_URL": db_url, "DIGEST_CONFIG": str(bundled_config_path()),
           "DIGEST_SECRET_KEY": "test-secret-key-0123456789"}
    refused = CliRunner().invoke(main, ["subscribers", "import", str(csv)], env=env)
    assert refused.exit_code == 2 and "consent_source missing" in refused.output
    done = CliRunner().invoke(main, ["subscribers", "import", str(csv), "--consent", "spring fair sign-up sheet"],
                              env=env)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("1 added, 1 updated, 0 unchanged, 0 line(s) refused")
    with web_runtime.session() as session:
        ids = dict(session.execute(select(Subscriber.email, Subscriber.id)).all())
        rows = session.scalars(select(ConsentRecord).order_by(ConsentRecord.subscriber_id))
        # The new reader's record carries the file's consented_at; the other one the import's time.
        stored = [(r.subscriber_id, r.event, r.source, r.wording,
                   r.at.date() if r.subscriber_id == ids["new@example.com"] else None) for r in rows]
    assert sorted(stored) == sorted([
        (ids["new@example.com"], "import", "spring-list.csv", "spring fair sign-up sheet",
         datetime(2026, 3, 1, tzinfo=timezone.utc).date()),
        (ids["same@example.com"], "import", "spring-list.csv", "spring fair sign-up sheet", None),
    ])
