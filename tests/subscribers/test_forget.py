"""``digest subscribers forget EMAIL``: afterwards no table holds the address, the client
address or the user agent; an import of the address is refused as suppressed, and a new
signup works."""

from __future__ import annotations

from datetime import datetime, timezone

from click.testing import CliRunner
from sqlalchemy import create_engine, select

from digest.cli import main
from digest.models import Base, Delivery, Edition, ProviderEvent, Subscriber, Topic
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings
from digest.subscribers.consent import Evidence, record_consent
from digest.subscribers.signup import Signup, sign_up

AT = datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc)
ADDRESS, IP, AGENT = "forget.me@example.com", "192.0.2.99", "Very Particular Browser/7.1"


def env(db_url: str) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "DIGEST_CONFIG": str(bundled_config_path()),
            "DIGEST_SECRET_KEY": "test-secret-key-0123456789"}


def every_value(db_url: str) -> list[str]:
    """Every value of every row of every table, as text."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [str(value) for table in Base.metadata.sorted_tables
                    for row in conn.execute(table.select()) for value in row]
    finally:
        engine.dispose()


def test_forgetting_erases_the_reader_and_only_an_import_is_refused_afterwards(db_url, tmp_path):
    runtime = Runtime.open(load_settings(env(db_url)))
    try:
        with runtime.session() as session:
            gold = session.scalars(select(Topic).where(Topic.slug == "gold")).one()
            reader = Subscriber(email=ADDRESS, topics=[gold], created_at=AT, updated_at=AT)
            other = Subscriber(email="stays@example.com", topics=[gold], created_at=AT, updated_at=AT)
            session.add_all([reader, other, Edition(date=AT.date())])
            session.flush()
            record_consent(session, reader.id, "signup", Evidence(IP, AGENT, "api", "I agree."), at=AT)
            record_consent(session, other.id, "signup", Evidence("198.51.100.1", "Other/1.0"), at=AT)
            mine = Delivery(edition_id=1, subscriber_id=reader.id, status="sent", email=ADDRESS)
            session.add_all([mine, Delivery(edition_id=1, subscriber_id=other.id, status="sent",
                                            email="stays@example.com")])
            session.flush()
            session.add_all([
                ProviderEvent(provider="sendgrid", event_id="e1", event="open", email=None, delivery_id=mine.id,
                              payload={"ip": IP, "useragent": AGENT}, received_at=AT),
                ProviderEvent(provider="sendgrid", event_id="e2", event="open", email=ADDRESS,
                              payload={"email": ADDRESS}, received_at=AT),
                ProviderEvent(provider="sendgrid", event_id="e3", event="open", email="stays@example.com",
                              payload={"email": "stays@example.com"}, received_at=AT),
            ])
        assert any(ADDRESS in v for v in every_value(db_url))  # the scan below can see it

        done = CliRunner().invoke(main, ["subscribers", "forget", "Forget.Me@example.com"], env=env(db_url))
        assert done.exit_code == 0, done.output
        assert done.output == f"{ADDRESS}: forgotten\n"
        values = every_value(db_url)
        for secret in (ADDRESS, "forget.me", IP, AGENT):
            assert not [v for v in values if secret.lower() in v.lower()], secret
        assert "stays@example.com" in values and "198.51.100.1" in values  # nobody else touched

        csv = tmp_path / "list.csv"
        csv.write_text(f"email,topics,consent_source\n{ADDRESS},gold,old list\nnew@example.com,gold,old list\n")
        imported = CliRunner().invoke(main, ["subscribers", "import", str(csv)], env=env(db_url))
        assert imported.exit_code == 0, imported.output
        assert imported.output.startswith("1 added, 0 updated, 0 unchanged, 0 line(s) refused\n"
                                          "1 address(es) not resubscribed")
        assert f"  {ADDRESS}\n" in imported.output
        with runtime.session() as session:
            assert sorted(session.scalars(select(Subscriber.email))) == ["new@example.com", "stays@example.com"]
            result = sign_up(session, Signup(ADDRESS, ("gold",), "UTC", 7))
            assert result.outcome == "new"
            assert session.get(Subscriber, result.subscriber_id).status == "pending"

        again = CliRunner().invoke(main, ["subscribers", "forget", "nobody@example.com"], env=env(db_url))
        assert again.exit_code == 2 and "error: no subscriber 'nobody@example.com'" in again.output
    finally:
        runtime.close()
