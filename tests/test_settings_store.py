"""Settings validation and the store's basic guarantees, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from digest import db
from digest.errors import ConfigError
from digest.models import Briefing, Subscriber, Topic
from digest.settings import load_settings, normalise_database_url


def test_heroku_postgres_url_is_accepted():
    assert normalise_database_url("postgres://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_bad_config_names_file_key_and_expectation(tmp_path):
    bad = tmp_path / "digest.toml"
    bad.write_text(
        """
[publication]
name = "X"
from_address = "not-an-address"
postal_address = "1 Main St, Town"
contact = "a@b.example"
list_id = "x.example"
[disclaimer]
text = "Not a recommendation to buy or sell anything at all."
[[topics]]
slug = "Gold Bugs"
title = "Gold"
"""
    )
    with pytest.raises(ConfigError) as info:
        load_settings({"DIGEST_CONFIG": str(bad)})
    message = str(info.value)
    assert str(bad) in message
    assert "publication.from_address" in message
    assert "topics.0.slug" in message


def test_delivery_section_defaults_and_bad_values_are_named(tmp_path):
    from digest.settings import bundled_config_path

    text = bundled_config_path().read_text()
    assert "[delivery]" not in text  # the sample relies on the defaults
    default = load_settings({"DIGEST_CONFIG": str(bundled_config_path())}).config.delivery
    assert (default.ambiguous, default.ambiguous_wait_minutes) == ("resend-after-wait", 30)
    bad = tmp_path / "digest.toml"
    bad.write_text(text.replace("[[topics]]", '[delivery]\nambiguous = "sometimes"\nambiguous_wait_minutes = 0\n\n[[topics]]', 1))
    with pytest.raises(ConfigError) as info:
        load_settings({"DIGEST_CONFIG": str(bad)})
    message = str(info.value)
    assert "delivery.ambiguous: Input should be 'resend-after-wait' or 'ask' (got 'sometimes')" in message
    assert "delivery.ambiguous_wait_minutes: Input should be greater than or equal to 1 (got 0)" in message


def test_missing_key_and_unknown_key_are_named(tmp_path):
    bad = tmp_path / "digest.toml"
    bad.write_text('[publication]\nname = "X"\ncolour = "red"\n')
    with pytest.raises(ConfigError) as info:
        load_settings({"DIGEST_CONFIG": str(bad)})
    message = str(info.value)
    assert "publication.colour" in message and "Extra inputs" in message
    assert "disclaimer: Field required" in message


def test_unreadable_toml_and_missing_file(tmp_path):
    bad = tmp_path / "digest.toml"
    bad.write_text("[publication\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"DIGEST_CONFIG": str(bad)})
    with pytest.raises(ConfigError, match="not found"):
        load_settings({"DIGEST_CONFIG": str(tmp_path / "nope.toml")})


def test_bad_environment_values_are_named():
    with pytest.raises(ConfigError, match="DIGEST_PROVIDER"):
        load_settings({"DIGEST_PROVIDER": "carrier-pigeon"}, demo=True)
    with pytest.raises(ConfigError, match="PORT"):
        load_settings({"PORT": "eighty"}, demo=True)


def test_secret_key_required_outside_demo():
    settings = load_settings({}, demo=False)
    with pytest.raises(ConfigError, match="DIGEST_SECRET_KEY"):
        settings.require_secret_key()
    assert load_settings({}, demo=True).require_secret_key()


def test_secrets_do_not_appear_in_repr():
    settings = load_settings(
        {"SENDGRID_API_KEY": "SG.very-secret", "DIGEST_SECRET_KEY": "s3cr3t", "SMTP_URL": "smtp://u:pw@h:25"},
        demo=True,
    )
    text = repr(settings)
    assert "very-secret" not in text and "s3cr3t" not in text and "pw@" not in text


def test_topics_synced_and_timestamps_round_trip_aware(runtime):
    with runtime.session() as session:
        slugs = set(session.scalars(select(Topic.slug)))
        assert slugs == set(runtime.settings.config.topic_slugs)
        gold = session.scalar(select(Topic).where(Topic.slug == "gold"))
        when = datetime(2026, 3, 8, 6, 30, tzinfo=timezone.utc)
        session.add(
            Briefing(guid="g1", title="T", published_at=when, content_hash="h", topics=[gold])
        )
    with runtime.session() as session:
        row = session.scalar(select(Briefing))
        assert row.published_at == when and row.published_at.tzinfo is not None
        assert [t.slug for t in row.topics] == ["gold"]


def test_subscriber_email_is_unique(runtime):
    with pytest.raises(IntegrityError):
        with runtime.session() as session:
            session.add_all([Subscriber(email="a@b.example"), Subscriber(email="a@b.example")])


def test_fresh_sqlite_database_is_upgraded_on_first_use(tmp_path, make_settings):
    from digest.runtime import Runtime

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    rt = Runtime.open(make_settings(url))
    assert db.current_revision(rt.engine) == db.head_revision(rt.engine)
    rt.close()
