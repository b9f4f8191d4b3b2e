"""SendGridProvider against the local v3 mail/send server: the request it builds and the
rules the server enforces."""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from digest.deliver.providers.base import ProviderError
from digest.deliver.providers.sendgrid import SendGridProvider
from digest.deliver.providers.sendgrid_payload import MAX_REQUEST_BYTES, build_payload, encode_payload
from digest.errors import ConfigError
from digest.message import ONE_CLICK

from fakes.batches import make_batch, rendered_email
from fakes.fixtures import FAST_RETRY, TEST_API_KEY, fake_sendgrid, sendgrid_settings  # noqa: F401


@pytest.fixture
def provider(sendgrid_settings):
    p = SendGridProvider(sendgrid_settings, timeout=5, retry=FAST_RETRY)
    yield p
    p.close()


@pytest.fixture
def wire(fake_sendgrid):
    """Every POST as it reached the fake server: (method, path, headers, raw body bytes)."""
    seen: list[tuple] = []
    base = fake_sendgrid._server.RequestHandlerClass

    class Recording(base):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with fake_sendgrid.lock:
                seen.append((self.command, self.path, self.headers, raw))
            socket_file, self.rfile = self.rfile, io.BytesIO(raw)
            try:
                super().do_POST()
            finally:
                self.rfile = socket_file

    fake_sendgrid._server.RequestHandlerClass = Recording
    return seen


def test_one_request_one_personalization_per_recipient(provider, sendgrid_settings, fake_sendgrid):
    batch = make_batch(sendgrid_settings, 3)

    result = provider.send(batch)

    assert len(fake_sendgrid.requests) == 1
    request = fake_sendgrid.requests[0]
    assert [p["to"] for p in request["personalizations"]] == [[{"email": r.email}] for r in batch.recipients]
    assert [c["type"] for c in request["content"]] == ["text/plain", "text/html"]
    assert request["from"] == {"email": "briefing@ridgeline.example", "name": "Ridgeline Briefing"}
    assert request["reply_to"] == {"email": "editors@ridgeline.example"}
    assert request["headers"]["List-Id"] == "Ridgeline Resource Briefing <daily.ridgeline.example>"
    assert request["custom_args"] == {"edition_id": "5", "edition_date": "2026-01-05", "batch_id": "11"}
    assert "edition-2026-01-05" in request["categories"]
    assert result.message_id and result.message_id == fake_sendgrid.delivered[0].message_id


def test_each_recipient_gets_their_own_tokens_and_headers(provider, sendgrid_settings, fake_sendgrid):
    batch = make_batch(sendgrid_settings, 3)
    provider.send(batch)

    for r in batch.recipients:
        [msg] = fake_sendgrid.messages_for(r.email)
        unsubscribe = r.tokens["unsubscribe_url"]
        assert msg.subject == f"Ridgeline daily for {r.email}: copper and lithium"
        assert f'href="{unsubscribe}"' in msg.html
        assert f"Unsubscribe: {unsubscribe}" in msg.text
        assert msg.headers["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert msg.headers["List-Unsubscribe-Post"] == ONE_CLICK
        assert msg.custom_args["delivery_id"] == str(r.delivery_id)
        assert "%%" not in msg.subject + msg.html + msg.text
    urls = {m.headers["List-Unsubscribe"] for m in fake_sendgrid.delivered}
    assert len(urls) == 3


def test_missing_api_key_is_a_config_error(make_settings):
    settings = make_settings(DIGEST_PROVIDER="sendgrid")
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY"):
        SendGridProvider(settings)


def test_wrong_key_fails_at_once_with_sendgrids_message(make_settings, fake_sendgrid, caplog):
    settings = make_settings(SENDGRID_API_KEY="SG.wrong-secret-value", SENDGRID_API_HOST=fake_sendgrid.url)
    provider = SendGridProvider(settings, timeout=5, retry=FAST_RETRY)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ProviderError) as info:
        provider.send(make_batch(settings, 2))

    assert info.value.permanent and not info.value.ambiguous
    assert info.value.halt  # the key is refused for every batch: the edition stops here
    assert "401" in str(info.value) and "authorization grant is invalid" in str(info.value)
    assert "SENDGRID_API_KEY" in str(info.value)
    assert fake_sendgrid.attempts == 1 and not fake_sendgrid.delivered
    assert "SG.wrong-secret-value" not in caplog.text + str(info.value)


def test_the_api_key_never_reaches_the_log(provider, sendgrid_settings, fake_sendgrid, caplog):
    """python_http_client logs request headers at DEBUG; the provider must silence that."""
    caplog.set_level(logging.DEBUG)
    fake_sendgrid.fail_next(503)
    provider.send(make_batch(sendgrid_settings, 2))
    assert caplog.records, "expected some log output (the retry warning at least)"
    assert TEST_API_KEY not in caplog.text
    assert TEST_API_KEY not in repr(provider)


def test_the_request_on_the_wire_is_the_encoded_payload_with_sendgrids_headers(
    provider, sendgrid_settings, fake_sendgrid, wire
):
    batch = make_batch(sendgrid_settings, 3)

    provider.send(batch)

    [(method, path, headers, raw)] = wire
    assert (method, path) == ("POST", "/v3/mail/send")
    assert raw == encode_payload(build_payload(batch, sendgrid_settings.config))  # byte for byte
    assert headers["Authorization"] == f"Bearer {TEST_API_KEY}"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("sendgrid/") and headers["User-Agent"].endswith(";python")
    assert headers["Content-Length"] == str(len(raw))


def test_neither_the_key_nor_the_body_is_ever_formatted_into_a_log_record(
    provider, sendgrid_settings, fake_sendgrid, caplog
):
    """Even with python_http_client's logger at DEBUG (the module holds it at INFO): the
    request never goes through the code that logs its headers and body."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="python_http_client.client")
    batch = make_batch(sendgrid_settings, 2)
    body = encode_payload(build_payload(batch, sendgrid_settings.config)).decode()
    fake_sendgrid.fail_next(503)  # the retry and python_http_client's error logging too

    provider.send(batch)

    assert any(r.name == "python_http_client.client" for r in caplog.records), "its logger was listening"
    for record in caplog.records:
        message = record.getMessage()
        assert TEST_API_KEY not in message
        assert "PAYLOAD" not in message and "HEADERS" not in message
        assert body not in message and body[:60] not in message
        assert not any(r.email in message for r in batch.recipients)


@pytest.mark.parametrize("host_suffix", ["", "/"])
def test_the_host_works_with_or_without_a_trailing_slash(make_settings, fake_sendgrid, wire, host_suffix):
    settings = make_settings(SENDGRID_API_KEY=TEST_API_KEY, SENDGRID_API_HOST=fake_sendgrid.url + host_suffix)
    by_hand = replace(settings, sendgrid_api_host=fake_sendgrid.url + host_suffix)  # not through the env
    for s in (settings, by_hand):
        SendGridProvider(s, timeout=5, retry=FAST_RETRY).send(make_batch(s, 1))
    assert [path for _, path, _, _ in wire] == ["/v3/mail/send", "/v3/mail/send"]
    assert len(fake_sendgrid.delivered) == 2


def test_one_provider_sends_from_8_threads_at_once(provider, sendgrid_settings, fake_sendgrid, wire):
    batches = [make_batch(sendgrid_settings, 25, batch_id=100 + n, first_subscriber=1 + 25 * n) for n in range(40)]
    fake_sendgrid.delay_next(0.05, times=8)  # the first eight are in flight together

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(provider.send, batches))

    assert len({r.message_id for r in results}) == 40 and all(r.message_id for r in results)
    counts = fake_sendgrid.delivery_counts()
    assert len(counts) == 40 * 25 and set(counts.values()) == {1}
    sent = {b.batch_id: encode_payload(build_payload(b, sendgrid_settings.config)) for b in batches}
    assert len(wire) == 40
    for _, path, headers, raw in wire:
        assert raw == sent[_batch_id(raw)] and path == "/v3/mail/send"
        assert headers["Authorization"] == f"Bearer {TEST_API_KEY}"
        assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert {_batch_id(raw) for *_, raw in wire} == set(sent)


def _batch_id(raw: bytes) -> int:
    import json

    return int(json.loads(raw)["custom_args"]["batch_id"])


@pytest.mark.parametrize("status", [400, 403])
def test_client_errors_are_permanent_and_not_retried(provider, sendgrid_settings, fake_sendgrid, status):
    fake_sendgrid.fail_next(status, body={"errors": [{"message": "nope", "field": "content", "help": None}]})
    with pytest.raises(ProviderError, match=f"HTTP {status}: content: nope") as info:
        provider.send(make_batch(sendgrid_settings, 2))
    assert info.value.permanent
    assert fake_sendgrid.attempts == 1 and not fake_sendgrid.delivered


def test_a_body_over_30_mb_is_refused_before_sending(provider, sendgrid_settings, fake_sendgrid):
    huge = rendered_email(html="<p>" + "x" * MAX_REQUEST_BYTES + "</p>")
    with pytest.raises(ProviderError, match="30 MB limit") as info:
        provider.send(make_batch(sendgrid_settings, 1, body=huge))
    assert info.value.permanent
    assert fake_sendgrid.attempts == 0


def test_a_duplicate_address_is_refused_before_sending(provider, sendgrid_settings, fake_sendgrid):
    batch = make_batch(sendgrid_settings, emails=["a@example.org", "b@example.org", "A@Example.org"])
    with pytest.raises(ProviderError, match="more than once") as info:
        provider.send(batch)
    assert info.value.permanent and fake_sendgrid.attempts == 0


def test_more_than_1000_recipients_is_refused_before_sending(provider, sendgrid_settings, fake_sendgrid):
    with pytest.raises(ProviderError, match="1 to 1000"):
        provider.send(make_batch(sendgrid_settings, 1001))
    assert fake_sendgrid.attempts == 0


def test_a_full_batch_of_1000_is_one_request(provider, sendgrid_settings, fake_sendgrid):
    batch = make_batch(sendgrid_settings, 1000)
    provider.send(batch)
    assert len(fake_sendgrid.requests) == 1
    counts = fake_sendgrid.delivery_counts()
    assert len(counts) == 1000 and set(counts.values()) == {1}


# ------------------------------------------------------------ the fake enforces the rules


def _post(fake, payload, key=TEST_API_KEY):
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        fake.url + "/v3/mail/send", data=json.dumps(payload).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, b""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _valid_payload(settings, n=2):
    return build_payload(make_batch(settings, n), settings.config)


def test_fake_server_accepts_a_valid_request(sendgrid_settings, fake_sendgrid):
    assert _post(fake_sendgrid, _valid_payload(sendgrid_settings))[0] == 202


@pytest.mark.parametrize(
    "break_it, field",
    [
        (lambda p: p.pop("from"), "from"),
        (lambda p: p.pop("subject"), "subject"),
        (lambda p: p.pop("content"), "content"),
        (lambda p: p["content"].reverse(), "content"),
        (lambda p: p.update(personalizations=[]), "personalizations"),
        (lambda p: p["personalizations"][1].update(to=p["personalizations"][0]["to"]), "personalizations.1.to"),
        (lambda p: p["personalizations"][0].update(to=[{"email": f"r{i}@x.org"} for i in range(1001)]),
         "personalizations"),
        (lambda p: p.update(personalizations=p["personalizations"] * 501), "personalizations"),
        (lambda p: p["personalizations"][0]["headers"].update({"Reply-To": "x@y.z"}), "personalizations.0.headers"),
    ],
    ids=["no-from", "no-subject", "no-content", "html-first", "no-personalizations", "duplicate-address",
         "over-1000-recipients", "over-1000-personalizations", "reserved-header"],
)
def test_fake_server_enforces_the_documented_rules(sendgrid_settings, fake_sendgrid, break_it, field):
    import json

    payload = _valid_payload(sendgrid_settings)
    break_it(payload)
    status, body = _post(fake_sendgrid, payload)
    assert status == 400
    assert json.loads(body)["errors"][0]["field"] == field
    assert not fake_sendgrid.delivered


def test_fake_server_requires_the_bearer_key(sendgrid_settings, fake_sendgrid):
    assert _post(fake_sendgrid, _valid_payload(sendgrid_settings), key="other")[0] == 401


def test_a_reserved_header_on_any_one_recipient_is_refused_before_sending(sendgrid_settings):
    from dataclasses import replace

    batch = make_batch(sendgrid_settings, 3)
    last = replace(batch.recipients[2], headers=dict(batch.recipients[2].headers) | {"Reply-To": "x@example.org"})
    batch = replace(batch, recipients=[*batch.recipients[:2], last])
    with pytest.raises(ProviderError, match="reserves the header") as raised:
        build_payload(batch, sendgrid_settings.config)
    assert raised.value.permanent


def test_every_recipient_gets_their_own_substitutions_and_headers(sendgrid_settings):
    import json

    batch = make_batch(sendgrid_settings, 3)
    payload = json.loads(encode_payload(build_payload(batch, sendgrid_settings.config)))
    for recipient, personalization in zip(batch.recipients, payload["personalizations"], strict=True):
        assert personalization["to"] == [{"email": recipient.email}]
        assert personalization["substitutions"] == {f"%%{k}%%": v for k, v in recipient.tokens.items()}
        assert personalization["headers"] == dict(recipient.headers)
