"""SendGridProvider keeps its connections alive: batches share a few connections (the
stand-in counts the TCP connections it accepted), a connection the server closed while
idle is replaced without a doubt about what was sent, and an answer lost on a kept-alive
connection is still ambiguous."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from digest.deliver.providers.base import ProviderError
from digest.deliver.providers.sendgrid import SendGridProvider
from digest.deliver.providers.sendgrid_transport import connections_per_process

from fakes.batches import make_batch, rendered_email
from fakes.fixtures import FAST_RETRY, TEST_API_KEY, fake_sendgrid, sendgrid_env, sendgrid_settings  # noqa: F401
from fakes.sendgrid_server import FakeSendGrid


def _batches(settings, count: int, size: int = 3):
    return [make_batch(settings, size, batch_id=100 + n, first_subscriber=1 + size * n) for n in range(count)]


def _each_once(fake, batches) -> bool:
    counts = fake.delivery_counts()
    expected = {r.email.lower() for b in batches for r in b.recipients}
    return set(counts) == expected and set(counts.values()) == {1}


def _until(condition, limit: float = 5.0) -> None:
    """Wait for the stand-in's own threads to catch up (not a timing assertion)."""
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "the stand-in never got there"
        time.sleep(0.01)


def test_ten_batches_one_after_another_use_one_connection(sendgrid_settings, fake_sendgrid):
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=FAST_RETRY)
    batches = _batches(sendgrid_settings, 10)

    results = [provider.send(b) for b in batches]

    assert fake_sendgrid.connections == 1  # urllib opened ten
    assert fake_sendgrid.responses[202] == 10 and len({r.message_id for r in results}) == 10
    assert _each_once(fake_sendgrid, batches)
    provider.close()


def test_eight_threads_share_the_two_connections_they_are_allowed(sendgrid_settings, fake_sendgrid):
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=FAST_RETRY, connections=2)
    batches = _batches(sendgrid_settings, 24)
    fake_sendgrid.delay_next(0.05, times=8)  # requests overlap: every thread wants a connection at once

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(provider.send, batches))

    assert fake_sendgrid.most_in_flight == 2 and fake_sendgrid.connections == 2
    assert len({r.message_id for r in results}) == 24 and fake_sendgrid.responses[202] == 24
    assert _each_once(fake_sendgrid, batches)
    provider.close()


def test_a_process_opens_a_connection_per_sending_thread_within_sendgrids_documented_figure():
    # DIGEST_SEND_CONCURRENCY is at most 64 threads per process; the send's processes
    # together stay within the 10,000 concurrent connections SendGrid documents.
    assert connections_per_process(1) == connections_per_process(64) == 64
    assert connections_per_process(500) == 20 and connections_per_process(20_000) == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_batch_sent_once(
    sendgrid_settings, fake_sendgrid
):
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=FAST_RETRY)
    first, second = _batches(sendgrid_settings, 2)
    provider.send(first)
    _until(lambda: fake_sendgrid.in_flight == 0)  # answered, and waiting for the next request

    assert fake_sendgrid.close_idle_connections() == 1  # the server drops it between requests
    _until(lambda: not fake_sendgrid._idle)  # its side is closed

    result = provider.send(second)  # not written on the dead connection: a new one

    assert result.message_id and not (result.ambiguous or result.unsent)
    assert fake_sendgrid.connections == 2 and fake_sendgrid.attempts == 2
    assert fake_sendgrid.responses == {202: 2}
    assert _each_once(fake_sendgrid, [first, second])
    provider.close()


def test_a_server_idle_timeout_costs_a_new_connection_not_a_doubt(make_settings):
    with FakeSendGrid(api_key=TEST_API_KEY, idle_timeout=0.2) as fake:
        settings = make_settings(DIGEST_PROVIDER="sendgrid", SENDGRID_API_KEY=TEST_API_KEY,
                                 SENDGRID_API_HOST=fake.url)
        provider = SendGridProvider(settings, timeout=5, retry=FAST_RETRY)
        batches = _batches(settings, 3)
        provider.send(batches[0])
        provider.send(batches[1])  # at once: the same connection
        _until(lambda: not fake._idle)  # idle past the server's timeout: it closed it

        provider.send(batches[2])

        assert fake.connections == 2 and fake.attempts == 3 and fake.responses == {202: 3}
        assert _each_once(fake, batches)
        provider.close()


@pytest.mark.parametrize("fault", ["lose_answer_next", "drop_next"])
def test_an_answer_lost_on_a_kept_alive_connection_is_ambiguous_and_not_resent(
    sendgrid_settings, fake_sendgrid, fault
):
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=FAST_RETRY)
    first, second, third = _batches(sendgrid_settings, 3)
    provider.send(first)
    getattr(fake_sendgrid, fault)()  # the second request, on the kept-alive connection

    with pytest.raises(ProviderError) as info:
        provider.send(second)

    assert info.value.ambiguous and not info.value.permanent
    assert fake_sendgrid.attempts == 2  # never resent
    provider.send(third)  # the next batch on a new connection
    assert fake_sendgrid.connections == 2 and fake_sendgrid.attempts == 3
    delivered = {m.to.lower() for m in fake_sendgrid.delivered}
    assert {r.email.lower() for r in third.recipients} <= delivered
    provider.close()


def test_a_request_whose_write_failed_is_sent_again_not_reported_ambiguous(sendgrid_settings, fake_sendgrid):
    """The connection is reset while a 20 MB request is being written: httpcore swallows the
    failed write and fails reading the answer, but nothing of it was taken (the server
    never read it to the end), so it is retried, once, on a new connection."""
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=FAST_RETRY)
    batch = make_batch(sendgrid_settings, 2, body=rendered_email("<p>" + "x" * 20_000_000 + "</p>"))
    fake_sendgrid.cut_next()

    result = provider.send(batch)

    assert result.message_id and not (result.ambiguous or result.unsent)
    assert fake_sendgrid.attempts == 2 and fake_sendgrid.responses == {202: 1}
    assert _each_once(fake_sendgrid, [batch])
    provider.close()


def test_a_refused_reconnection_after_the_server_went_away_is_retried_not_ambiguous(sendgrid_settings, fake_sendgrid):
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=replace(FAST_RETRY, deadline=5.0))
    first, second = _batches(sendgrid_settings, 2)
    fake_sendgrid.refuse_after_next(0.3)  # answers the first, then stops listening (and drops idle connections)

    provider.send(first)
    result = provider.send(second)  # refused until the server is back: retried, then sent

    assert result.message_id and fake_sendgrid.attempts == 2
    assert _each_once(fake_sendgrid, [first, second])
    provider.close()


def test_digest_send_sends_an_edition_of_four_requests_over_one_connection(sendgrid_env, fake_sendgrid):
    from datetime import datetime, timezone

    from click.testing import CliRunner

    from digest.cli import main
    from digest.settings import load_settings

    from fakes.edition_seed import seed_edition

    seed_edition(load_settings(sendgrid_env), 2500)  # four batches (by body), sent one after another

    result = CliRunner().invoke(main, ["send", "--date", datetime.now(timezone.utc).date().isoformat()])

    assert result.exit_code == 0, result.output + str(result.exception)
    assert fake_sendgrid.responses == {202: 4} and len(fake_sendgrid.delivery_counts()) == 2500
    assert fake_sendgrid.connections == 1
