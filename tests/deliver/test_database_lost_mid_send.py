"""PostgreSQL's connections terminated (``pg_terminate_backend``, from another
connection) while a batch's request is at the SendGrid stand-in: the ledger steps run
again on new connections, the edition goes on, and everyone is sent exactly once
(the stand-in's record compared with the ledger). PostgreSQL only: SQLite has no server
connection to lose."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from digest.deliver.edition import send_edition
from digest.deliver.providers.sendgrid import SendGridProvider
from digest.runtime import Runtime

from fakes.edition_seed import batch_statuses, ledger, seed_edition
from fakes.fixtures import FAST_RETRY, TEST_API_KEY, fake_sendgrid  # noqa: F401

TODAY = datetime.now(timezone.utc).date()
TERMINATE_OTHERS = text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the shared fixture, PostgreSQL only
def test_connections_terminated_mid_send_and_everyone_is_sent_once(db_url, make_settings, fake_sendgrid, caplog):
    pg_url = db_url
    settings = make_settings(pg_url, DIGEST_PROVIDER="sendgrid", SENDGRID_API_KEY=TEST_API_KEY,
                             SENDGRID_API_HOST=fake_sendgrid.url)
    emails = seed_edition(settings, 2500)  # four batches: 1000, 500, 500, 500
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=None)
    terminated: list[int] = []

    def terminate_during_the_second_request(addresses):
        if len(fake_sendgrid.posted) == 1 and not terminated:  # batch 2's request, before it is answered
            with admin.connect() as conn:
                terminated.append(conn.execute(TERMINATE_OTHERS).scalar())

    fake_sendgrid.on_request = terminate_during_the_second_request
    runtime = Runtime.open(settings)
    try:
        with caplog.at_level(logging.WARNING, logger="digest.deliver.providers.retry"):
            summary = send_edition(runtime, SendGridProvider(settings, timeout=10, retry=FAST_RETRY), TODAY)
    finally:
        runtime.close()
        admin.dispose()

    # The race happened: the sender's connection (held across the request) was among those
    # ended, and the settlement of that batch was run again on a new one.
    assert terminated and terminated[0] >= 1
    assert "lost the database connection" in caplog.text
    assert (summary.sent, summary.failed, summary.ambiguous) == (2500, 0, 0)
    counts = fake_sendgrid.delivery_counts()
    assert sorted(counts) == sorted(emails) and set(counts.values()) == {1}
    assert [status for status, _ in fake_sendgrid.posted] == [202] * 4
    rows = ledger(settings)
    assert {status for status, _ in rows.values()} == {"sent"} and len(rows) == 2500
    assert batch_statuses(settings) == {"sent": 4}
