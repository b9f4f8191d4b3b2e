"""An edition over SMTP to a loopback aiosmtpd server that refuses one reader for good
(550), takes at most ten recipients per connection (452), is unavailable for a while
(421) and drops one connection after DATA, on SQLite and PostgreSQL: only the 550 reader
fails, the dropped one is ambiguous inside a batch that went out, everyone else is sent
once, and ``--resend-ambiguous`` reaches the ambiguous reader."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from digest.deliver.edition import send_edition
from digest.deliver.providers.smtp import SmtpProvider
from digest.models import Batch
from digest.runtime import Runtime

from fakes.edition_seed import ledger, read, seed_edition
from fakes.fixtures import FAST_RETRY, fake_smtp  # noqa: F401

TODAY = datetime.now(timezone.utc).date()


@pytest.fixture
def settings(db_url, make_settings, fake_smtp):
    return make_settings(db_url, DIGEST_PROVIDER="smtp", SMTP_URL=fake_smtp.url)


@pytest.fixture
def runtime(settings):
    rt = Runtime.open(settings)
    yield rt
    rt.close()


def test_each_smtp_answer_costs_only_its_reader(settings, runtime, fake_smtp):
    emails = seed_edition(settings, 60, topic_sets=(("lithium",),))  # one batch of 60
    refused, dropped = emails[5], emails[40]
    fake_smtp.refuse = {refused}
    fake_smtp.per_connection = 10
    fake_smtp.unavailable_after, fake_smtp.unavailable_for = 25, 3
    fake_smtp.drop_after_data = {dropped}
    waits: list[float] = []
    provider = SmtpProvider(settings, timeout=5, retry=replace(FAST_RETRY, sleep=waits.append))

    first = send_edition(runtime, provider, TODAY)

    assert (first.sent, first.failed, first.ambiguous) == (58, 1, 1)
    # Worked out by hand: connection 1 takes readers 1-11 less the 550 one, then 452 for
    # reader 12; connection 2 takes 12-21, 452 for 22; connection 3 takes 22-26 (25 accepted
    # in all) and meets 421 for 27, as do connections 4 and 5; connection 6 takes 27-36,
    # 452 for 37; connection 7 takes 37-41 and is dropped after 41's DATA; connection 8
    # takes 42-51, 452 for 52; connection 9 takes 52-60.
    assert (fake_smtp.answers[550], fake_smtp.answers[452], fake_smtp.answers[421]) == (1, 4, 3)
    assert fake_smtp.connections == 9
    assert len(waits) == fake_smtp.answers[421] + fake_smtp.answers[452]  # a backoff before each retry
    rows = ledger(settings)
    assert rows[refused] == ("failed", "sent") and rows[dropped] == ("ambiguous", "sent")
    assert all(rows[e] == ("sent", "sent") for e in emails if e not in (refused, dropped))
    for address in emails:  # the dropped reader's message reached the server: it may have gone out
        assert len(fake_smtp.messages_for(address)) == (0 if address == refused else 1), address
    [error] = read(settings, select(Batch.error))[0]
    assert error.startswith("58 sent, 1 refused, 0 not sent (retryable), 1 ambiguous")

    # The operator checked: the dropped one did not arrive. The 550 reader is not asked again.
    fake_smtp.drop_after_data = set()
    resent = send_edition(runtime, provider, TODAY, resend_ambiguous=True)
    retried = send_edition(runtime, provider, TODAY, retry_failed=True)

    assert (resent.sent, resent.failed, resent.ambiguous) == (1, 0, 0)
    assert (retried.sent, retried.failed, retried.ambiguous) == (0, 0, 0)
    assert len(fake_smtp.messages_for(dropped)) == 2 and fake_smtp.messages_for(refused) == []
    assert fake_smtp.answers[550] == 1
    rows = ledger(settings)
    assert rows[dropped][0] == "sent" and rows[refused] == ("failed", "sent")
    assert sum(1 for status, _ in rows.values() if status == "sent") == 59
