"""KeptAliveOpener's answers read as urllib's: python_http_client (and the provider after
it) reads an answer's status, body and headers, and an error's reason besides, and finds
what urllib's own opener gives for the same answer, header names looked up in any case.
And a connection that could not be made does not keep its thread's turn."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import httpcore
import pytest
from python_http_client.client import Response
from python_http_client.exceptions import TooManyRequestsError
from sendgrid import SendGridAPIClient

from digest.deliver.providers.sendgrid_payload import build_payload, encode_payload
from digest.deliver.providers.sendgrid_transport import KeptAliveOpener

from fakes.batches import make_batch
from fakes.fixtures import TEST_API_KEY, fake_sendgrid, sendgrid_settings  # noqa: F401


@pytest.fixture
def opener():
    opener = KeptAliveOpener(connections=1, timeout=5)
    yield opener
    opener.close()


def _request(fake, body: bytes = b"{}") -> urllib.request.Request:
    return urllib.request.Request(f"{fake.url}/v3/mail/send", data=body, method="POST", headers={
        "Authorization": f"Bearer {TEST_API_KEY}", "Content-Type": "application/json"})


def test_an_error_answer_is_the_http_error_urllib_raises(fake_sendgrid, opener):
    # Names in another case than the readers' (sendgrid_answers looks up "X-RateLimit-Reset").
    fake_sendgrid.fail_next(429, headers={"x-ratelimit-reset": "1767225600", "RETRY-AFTER": "30"}, times=3)

    with pytest.raises(urllib.error.HTTPError) as ours:
        opener.open(_request(fake_sendgrid), timeout=5)
    with pytest.raises(urllib.error.HTTPError) as urllibs:
        urllib.request.urlopen(_request(fake_sendgrid), timeout=5)

    for error in (ours.value, urllibs.value):
        assert (error.code, error.reason) == (429, "Too Many Requests")
        assert error.headers["X-RateLimit-Reset"] == error.headers.get("X-RATELIMIT-RESET") == "1767225600"
        assert error.headers.get("Retry-After") == error.headers.get("retry-after") == "30"
    assert type(ours.value.headers) is type(urllibs.value.headers)
    assert ours.value.read() == urllibs.value.read()
    # As python_http_client maps it for the provider.
    client = SendGridAPIClient(TEST_API_KEY, host=fake_sendgrid.url).client
    with pytest.raises(TooManyRequestsError) as mapped:
        client._make_request(opener, _request(fake_sendgrid), timeout=5)
    assert (mapped.value.status_code, mapped.value.reason) == (429, "Too Many Requests")
    assert mapped.value.headers.get("X-RateLimit-Reset") == "1767225600"
    assert json.loads(mapped.value.body)["errors"][0]["message"] == "too many requests"


def test_an_accepted_request_answers_as_urllib_does(sendgrid_settings, fake_sendgrid, opener):
    body = encode_payload(build_payload(make_batch(sendgrid_settings, 1), sendgrid_settings.config))

    ours = Response(opener.open(_request(fake_sendgrid, body), timeout=5))
    with urllib.request.urlopen(_request(fake_sendgrid, body), timeout=5) as answer:
        urllibs = Response(answer)

    ours_id, urllibs_id = (m.message_id for m in fake_sendgrid.delivered)  # one reader each
    for response, message_id in ((ours, ours_id), (urllibs, urllibs_id)):
        assert (response.status_code, response.body) == (202, b"")
        assert response.headers.get("X-Message-Id") == response.headers.get("x-message-id") == message_id
    assert type(ours.headers) is type(urllibs.headers)


def test_a_connection_that_could_not_be_made_gives_its_turn_back(fake_sendgrid, opener, monkeypatch):
    def cannot(**settings):
        raise OSError("Too many open files")

    monkeypatch.setattr(httpcore, "ConnectionPool", cannot)
    with pytest.raises(OSError, match="Too many open files"):
        opener.open(_request(fake_sendgrid), timeout=5)
    monkeypatch.undo()
    fake_sendgrid.fail_next(429)
    answered: list[int] = []

    def send() -> None:
        try:
            opener.open(_request(fake_sendgrid), timeout=5)
        except urllib.error.HTTPError as error:
            answered.append(error.code)

    # The opener's one turn is free again: the next request is sent, not kept waiting.
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(5)
    assert answered == [429]
