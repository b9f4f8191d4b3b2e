"""``digest subscribers export EMAIL``: everything kept about one reader, as JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.models import Delivery, Edition, ProviderEvent, Subscriber, Topic
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings
from digest.subscribers.consent import Evidence, record_consent

AT = datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc)


def export(db_url: str, *args: str):
    env = {"DATABASE_URL": db_url, "DIGEST_CONFIG": str(bundled_config_path()),
           "DIGEST_SECRET_KEY": "test-secret-key-0123456789"}
    return CliRunner().invoke(main, ["subscribers", "export", *args], env=env)


def test_one_readers_data_as_json(db_url):
    runtime = Runtime.open(load_settings({"DATABASE_URL": db_url, "DIGEST_CONFIG": str(bundled_config_path())}))
    try:
        with runtime.session() as session:
            gold = session.scalars(select(Topic).where(Topic.slug == "gold")).one()
            reader = Subscriber(email="reader@example.com", status="active", timezone="Europe/Berlin", send_hour=6,
                                topics=[gold], created_at=AT, updated_at=AT)
            other = Subscriber(email="other@example.com", created_at=AT, updated_at=AT)
            session.add_all([reader, other])
            edition = Edition(date=AT.date())
            session.add(edition)
            session.flush()
            record_consent(session, reader.id, "signup", Evidence("192.0.2.7", "Browser/1.0", "api", "I agree."), at=AT)
            record_consent(session, other.id, "signup", Evidence("198.51.100.1"), at=AT)
            mine = Delivery(edition_id=edition.id, subscriber_id=reader.id, status="sent", email="reader@example.com")
            session.add_all([mine, Delivery(edition_id=edition.id, subscriber_id=other.id, status="sent")])
            session.flush()
            session.add_all([
                ProviderEvent(provider="sendgrid", event_id="e1", event="delivered", email=None,
                              payload={"sg_event_id": "e1"}, delivery_id=mine.id, received_at=AT),
                ProviderEvent(provider="sendgrid", event_id="e2", event="open", email="reader@example.com",
                              payload={"sg_event_id": "e2"}, received_at=AT),
                ProviderEvent(provider="sendgrid", event_id="e3", event="open", email="other@example.com",
                              payload={"sg_event_id": "e3"}, received_at=AT),
            ])
    finally:
        runtime.close()

    result = export(db_url, "Reader@Example.com")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert sorted(data) == ["consent_records", "deliveries", "profile", "provider_events", "topics"]
    assert data["profile"]["email"] == "reader@example.com"
    assert (data["profile"]["timezone"], data["profile"]["send_hour"]) == ("Europe/Berlin", 6)
    assert data["topics"] == ["gold"]
    assert [(c["event"], c["client_ip"], c["user_agent"], c["source"], c["wording"], c["at"])
            for c in data["consent_records"]] == [
        ("signup", "192.0.2.7", "Browser/1.0", "api", "I agree.", "2026-12-01T07:00:00+00:00")]
    assert [(d["status"], d["email"]) for d in data["deliveries"]] == [("sent", "reader@example.com")]
    assert [e["event_id"] for e in data["provider_events"]] == ["e1", "e2"]

    unknown = export(db_url, "nobody@example.com")
    assert unknown.exit_code == 2 and "error: no subscriber 'nobody@example.com'" in unknown.output
    both = export(db_url, "reader@example.com", "--status", "active")
    assert both.exit_code == 2 and "does not go with EMAIL" in both.output
