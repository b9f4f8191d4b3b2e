"""An edition through the SendGrid stand-in when SendGrid refuses one address (400 naming
its personalization), the API key (401) or the request's size (413), on SQLite and
PostgreSQL: each answer costs what it names and no more, and nothing is sent twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from digest.cli import main
from digest.deliver.edition import send_edition
from digest.deliver.providers.sendgrid import SendGridProvider
from digest.models import Batch, Delivery, Subscriber
from digest.runtime import Runtime

from fakes.edition_seed import batch_statuses, ledger, read, seed_edition
from fakes.fixtures import FAST_RETRY, TEST_API_KEY, fake_sendgrid  # noqa: F401

TODAY = datetime.now(timezone.utc).date()
ONE_BODY = (("lithium",),)  # every reader the same selection: 1,000 readers make one batch


@pytest.fixture
def settings(db_url, make_settings, fake_sendgrid):
    return make_settings(db_url, DIGEST_PROVIDER="sendgrid", SENDGRID_API_KEY=TEST_API_KEY,
                         SENDGRID_API_HOST=fake_sendgrid.url)


@pytest.fixture
def runtime(settings):
    rt = Runtime.open(settings)
    yield rt
    rt.close()


def _provider(settings) -> SendGridProvider:
    return SendGridProvider(settings, timeout=10, retry=FAST_RETRY)


def _errors(settings) -> dict[str, tuple[str | None, bool]]:
    rows = read(settings, select(Subscriber.email, Delivery.error, Delivery.refused)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id))
    return {email: (error, refused) for email, error, refused in rows}


def test_a_400_naming_one_address_fails_that_reader_alone_and_is_never_asked_again(settings, runtime, fake_sendgrid):
    emails = seed_edition(settings, 1000, topic_sets=ONE_BODY)
    bad = emails[417]  # the 418th subscriber: personalization 417 of the one request
    fake_sendgrid.refuse_addresses = {bad}
    provider = _provider(settings)

    first = send_edition(runtime, provider, TODAY)

    assert (first.sent, first.failed, first.ambiguous) == (999, 1, 0)
    assert [status for status, _ in fake_sendgrid.posted] == [400, 202]  # the rest at once, without it
    assert len(fake_sendgrid.posted[1][1]) == 999 and bad not in fake_sendgrid.posted[1][1]
    counts = fake_sendgrid.delivery_counts()
    assert counts[bad] == 0 and sorted(counts) == sorted(e for e in emails if e != bad)
    assert set(counts.values()) == {1}
    rows = ledger(settings)
    assert rows[bad] == ("failed", "sent")
    assert sum(1 for status, _ in rows.values() if status == "sent") == 999
    error, refused = _errors(settings)[bad]
    assert refused and "personalizations.417.to.0.email" in error and "Does not contain a valid address" in error

    retried = send_edition(runtime, provider, TODAY, retry_failed=True)

    assert retried.sent == 0 and retried.reset == []
    assert len(fake_sendgrid.posted) == 2  # the refused request was not made again
    assert ledger(settings)[bad] == ("failed", "sent")


def test_a_refused_reader_is_retried_once_their_address_changed(settings, runtime, fake_sendgrid):
    emails = seed_edition(settings, 30, topic_sets=ONE_BODY)
    bad = emails[7]
    fake_sendgrid.refuse_addresses = {bad}
    provider = _provider(settings)
    send_edition(runtime, provider, TODAY)
    with runtime.session() as session:
        session.execute(update(Subscriber).where(Subscriber.email == bad).values(email="fixed@example.org"))

    retried = send_edition(runtime, provider, TODAY, retry_failed=True)

    assert (retried.sent, retried.failed) == (1, 0)
    assert fake_sendgrid.posted[-1] == (202, ["fixed@example.org"])
    assert fake_sendgrid.delivery_counts()["fixed@example.org"] == 1
    assert ledger(settings)["fixed@example.org"][0] == "sent"
    # The batch that went out kept its record; the reader went in a batch of their own.
    assert batch_statuses(settings) == {"sent": 2}


def test_a_refused_api_key_stops_at_the_first_answer_and_a_good_key_sends_everyone_once(
        db_url, fake_sendgrid, monkeypatch, tmp_path):
    from digest.settings import bundled_config_path, load_settings

    env = {"DIGEST_CONFIG": str(bundled_config_path()), "DATABASE_URL": db_url, "DIGEST_PROVIDER": "sendgrid",
           "SENDGRID_API_KEY": "SG.revoked-key-4471", "SENDGRID_API_HOST": fake_sendgrid.url,
           "DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://digest.test"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    emails = seed_edition(settings, 2500)  # four batches: 1000, 500, 500, 500

    refused = CliRunner().invoke(main, ["send", "--date", TODAY.isoformat()])

    assert refused.exit_code == 1, refused.output
    assert fake_sendgrid.attempts == 1 and not fake_sendgrid.delivered
    mentions = [line for line in refused.output.splitlines() if "401" in line]
    assert len(mentions) == 1 and "SENDGRID_API_KEY" in mentions[0], refused.output
    assert "revoked-key" not in refused.output
    assert {status for status, _ in ledger(settings).values()} == {"queued"}
    assert batch_statuses(settings) == {"pending": 4}

    monkeypatch.setenv("SENDGRID_API_KEY", TEST_API_KEY)
    rerun = CliRunner().invoke(main, ["send", "--date", TODAY.isoformat()])

    assert rerun.exit_code == 0, rerun.output
    counts = fake_sendgrid.delivery_counts()
    assert sorted(counts) == sorted(emails) and set(counts.values()) == {1}
    assert {status for status, _ in ledger(settings).values()} == {"sent"}


def test_a_413_sends_the_batch_in_smaller_requests(settings, runtime, fake_sendgrid):
    emails = seed_edition(settings, 1000, topic_sets=ONE_BODY)
    fake_sendgrid.max_body_bytes = 300_000  # a request of 1,000 personalizations is about 1 MB
    provider = _provider(settings)

    summary = send_edition(runtime, provider, TODAY)

    assert (summary.sent, summary.failed, summary.ambiguous) == (1000, 0, 0)
    assert fake_sendgrid.posted[0] == (413, emails)
    accepted = [addresses for status, addresses in fake_sendgrid.posted if status == 202]
    assert sorted(a for part in accepted for a in part) == sorted(emails)  # each in one accepted request
    assert {len(part) for part in accepted} <= {500, 250, 125}
    counts = fake_sendgrid.delivery_counts()
    assert set(counts.values()) == {1} and len(counts) == 1000
    # Each reader's row holds the id of the request that carried them.
    ids = dict(read(settings, select(Subscriber.email, Delivery.provider_message_id)
                    .join(Delivery, Delivery.subscriber_id == Subscriber.id)))
    assert all(ids[m.to] == m.message_id for m in fake_sendgrid.delivered)
    assert batch_statuses(settings) == {"sent": 1}

    again = send_edition(runtime, provider, TODAY, retry_failed=True)
    assert again.sent == 0 and fake_sendgrid.delivery_counts() == counts
