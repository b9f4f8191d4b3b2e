"""SendGridProvider when the server misbehaves on purpose: what is retried, what fails at
once, and that an answer lost after the request arrived is never resent."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from digest.deliver.providers.base import ProviderError
from digest.deliver.providers.sendgrid import SendGridProvider

from fakes.batches import make_batch
from fakes.fixtures import FAST_RETRY, fake_sendgrid, sendgrid_settings  # noqa: F401


def _provider(settings, **retry_changes) -> SendGridProvider:
    return SendGridProvider(settings, timeout=5, retry=replace(FAST_RETRY, **retry_changes))


def _each_once(fake, batch) -> bool:
    counts = fake.delivery_counts()
    return all(counts[r.email.lower()] == 1 for r in batch.recipients) and len(counts) == len(batch.recipients)


def test_429_waits_for_the_rate_limit_reset_then_delivers_once(sendgrid_settings, fake_sendgrid):
    waits: list[float] = []
    provider = _provider(sendgrid_settings, sleep=waits.append)  # record the wait, do not sleep
    reset_in = 2.0
    fake_sendgrid.fail_next(429, headers={"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                                          "X-RateLimit-Reset": str(int(time.time() + reset_in + 1))})
    batch = make_batch(sendgrid_settings, 4)

    result = provider.send(batch)

    assert result.message_id
    assert fake_sendgrid.responses[429] == 1 and fake_sendgrid.responses[202] == 1
    assert _each_once(fake_sendgrid, batch)
    # The wait came from the header (about reset_in + 1 s), not from the 0.01 s backoff.
    assert len(waits) == 1 and waits[0] > reset_in - 1


@pytest.mark.parametrize("statuses", [[500], [503], [500, 503, 502]], ids=["500", "503", "500-503-502"])
def test_server_errors_are_retried_then_deliver_once(sendgrid_settings, fake_sendgrid, statuses):
    for status in statuses:
        fake_sendgrid.fail_next(status)
    batch = make_batch(sendgrid_settings, 3)

    _provider(sendgrid_settings).send(batch)

    assert fake_sendgrid.attempts == len(statuses) + 1
    assert _each_once(fake_sendgrid, batch)


def test_persistent_503_past_the_deadline_is_a_transient_error(sendgrid_settings, fake_sendgrid):
    fake_sendgrid.fail_next(503, times=1000)
    provider = _provider(sendgrid_settings, deadline=0.3, initial_backoff=0.02, max_backoff=0.05)

    with pytest.raises(ProviderError, match="gave up after .* HTTP 503") as info:
        provider.send(make_batch(sendgrid_settings, 2))

    assert not info.value.permanent and not info.value.ambiguous
    assert fake_sendgrid.attempts >= 2 and not fake_sendgrid.delivered


def test_a_rate_limit_reset_beyond_the_deadline_ends_the_retries(sendgrid_settings, fake_sendgrid):
    fake_sendgrid.fail_next(429, headers={"X-RateLimit-Reset": str(int(time.time() + 3600))})
    provider = _provider(sendgrid_settings, deadline=5, max_wait=7200, sleep=lambda s: pytest.fail("slept"))

    with pytest.raises(ProviderError, match="HTTP 429") as info:
        provider.send(make_batch(sendgrid_settings, 2))
    assert not info.value.permanent and fake_sendgrid.attempts == 1


def test_401_fails_at_once(sendgrid_settings, fake_sendgrid):
    fake_sendgrid.fail_next(401, body={"errors": [{"message": "bad key", "field": None, "help": None}]})
    with pytest.raises(ProviderError, match="HTTP 401: bad key") as info:
        _provider(sendgrid_settings).send(make_batch(sendgrid_settings, 2))
    assert info.value.permanent
    assert fake_sendgrid.attempts == 1


def test_refused_connections_are_retried_until_the_server_is_back(sendgrid_settings, fake_sendgrid, caplog):
    fake_sendgrid.refuse_connections()  # until the provider's first wait reopens it

    def reopen_then_wait(seconds: float) -> None:
        fake_sendgrid.accept_connections()

    provider = _provider(sendgrid_settings, sleep=reopen_then_wait)
    batch = make_batch(sendgrid_settings, 3)
    with caplog.at_level(logging.WARNING):
        provider.send(batch)

    assert "could not reach" in caplog.text and "Connection refused" in caplog.text
    assert fake_sendgrid.attempts == 1
    assert _each_once(fake_sendgrid, batch)


def test_a_server_that_never_comes_back_is_a_transient_error(sendgrid_settings, fake_sendgrid):
    fake_sendgrid.refuse_connections()
    provider = _provider(sendgrid_settings, deadline=0.2, initial_backoff=0.02, max_backoff=0.05)
    with pytest.raises(ProviderError, match="could not reach") as info:
        provider.send(make_batch(sendgrid_settings, 2))
    assert not info.value.permanent and not info.value.ambiguous


def test_an_unresolvable_host_is_retried_as_not_sent(make_settings):
    settings = make_settings(SENDGRID_API_KEY="k", SENDGRID_API_HOST="http://no-such-host.invalid")
    provider = SendGridProvider(settings, timeout=2, retry=replace(FAST_RETRY, deadline=0.05))
    with pytest.raises(ProviderError, match="could not reach") as info:
        provider.send(make_batch(settings, 1))
    assert not info.value.ambiguous


def test_an_answer_lost_after_delivery_is_ambiguous_and_not_resent(sendgrid_settings, fake_sendgrid):
    fake_sendgrid.lose_answer_next()
    batch = make_batch(sendgrid_settings, 5)

    with pytest.raises(ProviderError, match="answer was lost") as info:
        _provider(sendgrid_settings).send(batch)

    assert info.value.ambiguous and not info.value.permanent
    assert fake_sendgrid.attempts == 1
    assert _each_once(fake_sendgrid, batch)  # they got it, exactly once: never two


def test_a_read_timeout_is_ambiguous_and_not_resent(sendgrid_settings, fake_sendgrid):
    fake_sendgrid.delay_next(1.5)
    batch = make_batch(sendgrid_settings, 2)
    provider = SendGridProvider(sendgrid_settings, timeout=0.3, retry=FAST_RETRY)

    with pytest.raises(ProviderError, match="answer was lost") as info:
        provider.send(batch)

    assert info.value.ambiguous
    assert fake_sendgrid.attempts == 1
    assert _each_once(fake_sendgrid, batch)
