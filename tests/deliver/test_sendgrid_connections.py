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


def test_a_connection_expiring_as_its_thread_takes_it_is_not_closed_under_its_request(
    sendgrid_settings, fake_sendgrid, monkeypatch
):
    """A million-reader edition left a batch ambiguous ("ReadError: Bad file descriptor"):
    httpcore's pool, shared by the sending threads, let thread B close a kept-alive
    connection that had just expired while thread A, which the pool had handed it a moment
    before, was writing a request on it. Staged here step by step: A's connection is handed
    to it, then expires; B asks for a connection; A writes its request; B's pass over the
    pool goes on. No pool may be used by two threads at once, so B finds nothing of A's to
    close and A's answer arrives."""
    import threading

    import httpcore._sync.connection as hc_connection
    import httpcore._sync.connection_pool as hc_pool

    from digest.deliver.providers import sendgrid_transport

    monkeypatch.setattr(sendgrid_transport, "KEEPALIVE_EXPIRY", 0.3)
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=FAST_RETRY, connections=2)
    first, second, third = _batches(sendgrid_settings, 3)
    a_holds_connection, a_goes_on = threading.Event(), threading.Event()
    b_closing, b_goes_on = threading.Event(), threading.Event()
    closed_by_b: list = []
    thread_names = {"a-second": "A", "b": "B"}

    handle_request = hc_connection.HTTPConnection.handle_request

    def paused_handle_request(self, request):
        if thread_names.get(threading.current_thread().name) == "A":
            a_holds_connection.set()  # the pool handed A its kept-alive connection
            assert a_goes_on.wait(5)
        return handle_request(self, request)

    close_connections = hc_pool.ConnectionPool._close_connections

    def paused_close_connections(self, closing):
        if closing and thread_names.get(threading.current_thread().name) == "B":
            closed_by_b.extend(closing)
            b_closing.set()  # B's pass chose to close them, and is about to
            assert b_goes_on.wait(5)
        return close_connections(self, closing)

    monkeypatch.setattr(hc_connection.HTTPConnection, "handle_request", paused_handle_request)
    monkeypatch.setattr(hc_pool.ConnectionPool, "_close_connections", paused_close_connections)
    results: dict[str, object] = {}

    def send(name, batch):
        try:
            results[name] = provider.send(batch)
        except ProviderError as exc:
            results[name] = exc

    a_first = threading.Thread(target=send, args=("a-first", first), name="a-first")
    a_first.start()
    a_first.join(5)
    _until(lambda: fake_sendgrid.in_flight == 0)
    # A's next request, with the same pool: the connection it used is handed to it, not yet expired.
    thread_a = threading.Thread(target=send, args=("a-second", second), name="a-second")
    thread_a.start()
    assert a_holds_connection.wait(5)
    time.sleep(0.4)  # past KEEPALIVE_EXPIRY: the connection A holds has expired, still idle
    thread_b = threading.Thread(target=send, args=("b", third), name="b")
    thread_b.start()
    _until(lambda: b_closing.is_set() or not thread_b.is_alive())  # B's request waits, or is done
    release_answer = fake_sendgrid.hold_next()  # A's answer waits until B's pass is over
    a_goes_on.set()
    _until(lambda: str(second.batch_id) in fake_sendgrid.held_batches)  # A's request was written whole
    b_goes_on.set()  # B closes what its pass chose to close
    time.sleep(0.1)
    release_answer.set()
    for thread in (thread_a, thread_b):
        thread.join(5)

    assert not isinstance(results["a-second"], ProviderError), results["a-second"]
    assert closed_by_b == []  # nothing of A's
    assert all(not isinstance(r, ProviderError) and r.message_id for r in results.values())
    assert fake_sendgrid.attempts == 3 and fake_sendgrid.responses == {202: 3}
    assert fake_sendgrid.connections == 2  # A's kept-alive connection, and one for B
    assert _each_once(fake_sendgrid, [first, second, third])
    provider.close()


def test_a_connection_idle_past_its_expiry_is_closed_by_us_and_the_next_request_opens_another(
    sendgrid_settings, fake_sendgrid, monkeypatch
):
    from digest.deliver.providers import sendgrid_transport

    monkeypatch.setattr(sendgrid_transport, "KEEPALIVE_EXPIRY", 0.2)
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=FAST_RETRY)
    batches = _batches(sendgrid_settings, 3)
    provider.send(batches[0])
    provider.send(batches[1])  # at once: the same connection
    _until(lambda: fake_sendgrid.in_flight == 0)
    time.sleep(0.3)  # idle past our expiry (the stand-in keeps it open)

    provider.send(batches[2])

    assert fake_sendgrid.connections == 2 and fake_sendgrid.attempts == 3 and fake_sendgrid.responses == {202: 3}
    assert _each_once(fake_sendgrid, batches)
    provider.close()
