"""SmtpProvider against a loopback aiosmtpd server that answers with temporary refusals
(452 too many recipients per connection, 421 service not available): the rest of the
batch goes on over a new connection after a backoff, each reader sent once."""

from __future__ import annotations

from dataclasses import replace

from digest.deliver.providers.smtp import SmtpProvider

from fakes.batches import make_batch
from fakes.fixtures import FAST_RETRY, fake_smtp, smtp_settings  # noqa: F401


def _provider(settings, waits: list[float], **changes) -> SmtpProvider:
    return SmtpProvider(settings, timeout=5, retry=replace(FAST_RETRY, sleep=waits.append, **changes))


def _each_once(fake, batch) -> bool:
    return all(len(fake.messages_for(r.email)) == 1 for r in batch.recipients)


def test_452_after_n_per_connection_goes_on_over_new_connections(smtp_settings, fake_smtp):
    fake_smtp.per_connection = 3
    batch = make_batch(smtp_settings, 10)
    waits: list[float] = []

    result = _provider(smtp_settings, waits).send(batch)

    assert set(result.per_recipient_ids) == {r.email for r in batch.recipients}
    assert not (result.rejected or result.unsent or result.ambiguous)
    assert _each_once(fake_smtp, batch)
    # 3 + 3 + 3 + 1: three refusals, each followed by a wait and a new connection.
    assert fake_smtp.answers[452] == 3 and fake_smtp.connections == 4
    assert len(waits) == 3 and all(w > 0 for w in waits)


def test_421_for_a_while_is_waited_out_with_a_growing_backoff(smtp_settings, fake_smtp):
    fake_smtp.unavailable_after, fake_smtp.unavailable_for = 4, 3
    batch = make_batch(smtp_settings, 8)
    waits: list[float] = []

    result = _provider(smtp_settings, waits).send(batch)

    assert set(result.per_recipient_ids) == {r.email for r in batch.recipients}
    assert _each_once(fake_smtp, batch) and len(fake_smtp.received) == 8
    assert fake_smtp.answers[421] == 3
    # FAST_RETRY: 0.01 s doubling, no jitter: never again at once.
    assert waits == [0.01, 0.02, 0.04]


def test_a_server_that_stays_unavailable_leaves_the_rest_unsent_and_retryable(smtp_settings, fake_smtp):
    fake_smtp.unavailable_after, fake_smtp.unavailable_for = 2, 10_000
    batch = make_batch(smtp_settings, 6)
    waits: list[float] = []

    result = _provider(smtp_settings, waits, deadline=0.1).send(batch)

    emails = [r.email for r in batch.recipients]
    assert set(result.per_recipient_ids) == set(emails[:2])
    assert set(result.unsent) == set(emails[2:]) and not result.rejected and not result.ambiguous
    assert all("421" in reason for reason in result.unsent.values())
    # The third reader waited through its retries; the fourth had one try; the rest none.
    assert fake_smtp.answers[421] == len(waits) + 2
    assert len(fake_smtp.received) == 2
