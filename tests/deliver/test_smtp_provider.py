"""SmtpProvider against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from digest.deliver.providers.base import ProviderError
from digest.deliver.providers.smtp import SmtpProvider, SmtpTarget
from digest.errors import ConfigError
from digest.message import ONE_CLICK

from fakes.batches import make_batch
from fakes.fixtures import FAST_RETRY, TEST_SMTP_PASSWORD, fake_smtp, smtp_settings  # noqa: F401
from fakes.smtp_server import FakeSmtp


@pytest.fixture
def provider(smtp_settings):
    return SmtpProvider(smtp_settings, timeout=5, retry=FAST_RETRY)


def test_one_message_per_recipient_with_its_own_tokens(provider, smtp_settings, fake_smtp):
    batch = make_batch(smtp_settings, 3)

    result = provider.send(batch)

    assert not result.rejected and not result.ambiguous
    assert set(result.per_recipient_ids) == {r.email for r in batch.recipients}
    for r in batch.recipients:
        [msg] = fake_smtp.messages_for(r.email)
        unsubscribe = r.tokens["unsubscribe_url"]
        assert msg["To"] == r.email
        assert msg["Subject"] == f"Ridgeline daily for {r.email}: copper and lithium"
        assert msg["List-Unsubscribe"].strip() == f"<{unsubscribe}>"  # may be folded
        assert msg["List-Unsubscribe-Post"] == ONE_CLICK
        assert msg["Message-ID"] == result.per_recipient_ids[r.email]
        assert unsubscribe in msg.get_body(("plain",)).get_content()
        assert f'href="{unsubscribe}"' in msg.get_body(("html",)).get_content()
    assert {rec.authenticated_as for rec in fake_smtp.received} == {"digest"}
    assert all(len(rec.rcpt_tos) == 1 for rec in fake_smtp.received)


def test_refused_recipients_fail_and_the_others_go_on(provider, smtp_settings, fake_smtp):
    batch = make_batch(smtp_settings, 5)
    refused = {batch.recipients[1].email, batch.recipients[3].email}
    fake_smtp.refuse = set(refused)

    result = provider.send(batch)

    assert set(result.rejected) == refused
    assert all("550" in reason and "RCPT TO" in reason for reason in result.rejected.values())
    accepted = {r.email for r in batch.recipients} - refused
    assert set(result.per_recipient_ids) == accepted
    for r in batch.recipients:
        assert len(fake_smtp.messages_for(r.email)) == (0 if r.email in refused else 1)


def test_one_connection_per_batch(provider, smtp_settings, fake_smtp, monkeypatch):
    connects = []
    real_connect = provider._connect
    monkeypatch.setattr(provider, "_connect", lambda: connects.append(1) or real_connect())
    provider.send(make_batch(smtp_settings, 4))
    assert len(connects) == 1


def test_connection_lost_after_data_is_ambiguous_and_not_resent(provider, smtp_settings, fake_smtp):
    batch = make_batch(smtp_settings, 4)
    lost = batch.recipients[1].email
    fake_smtp.drop_after_data = {lost}

    result = provider.send(batch)

    assert set(result.ambiguous) == {lost}
    assert lost not in result.per_recipient_ids and lost not in result.rejected
    assert set(result.per_recipient_ids) == {r.email for r in batch.recipients} - {lost}
    for r in batch.recipients:  # the lost one was received once, never twice
        assert len(fake_smtp.messages_for(r.email)) == 1


def test_no_server_is_a_transient_error_after_retries(make_settings, caplog):
    server = FakeSmtp().start()
    url = server.url
    server.stop()  # nothing listens on that port now
    settings = make_settings(SMTP_URL=url)
    provider = SmtpProvider(settings, timeout=2, retry=replace(FAST_RETRY, deadline=0.2))

    with caplog.at_level(logging.WARNING), pytest.raises(ProviderError, match="could not connect") as info:
        provider.send(make_batch(settings, 2))

    assert not info.value.permanent and not info.value.ambiguous
    assert "attempt 1 failed" in caplog.text


def test_a_server_that_comes_back_gets_each_message_once(make_settings):
    server = FakeSmtp()
    server.start()
    server.stop()
    settings = make_settings(SMTP_URL=server.url)
    provider = SmtpProvider(settings, timeout=5, retry=replace(FAST_RETRY, sleep=lambda s: server.start()))
    batch = make_batch(settings, 2)
    try:
        result = provider.send(batch)
    finally:
        server.stop()
    assert set(result.per_recipient_ids) == {r.email for r in batch.recipients}
    assert all(len(server.messages_for(r.email)) == 1 for r in batch.recipients)


def test_wrong_password_is_permanent_and_never_logged(make_settings, fake_smtp, caplog):
    settings = make_settings(SMTP_URL=f"smtp://digest:wrong-pass-zz9@127.0.0.1:{fake_smtp.port}")
    provider = SmtpProvider(settings, timeout=5, retry=FAST_RETRY)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ProviderError, match="login as 'digest' refused") as info:
        provider.send(make_batch(settings, 1))

    assert info.value.permanent
    assert "wrong-pass-zz9" not in caplog.text + str(info.value) + repr(provider)
    assert not fake_smtp.received


def test_the_password_never_reaches_the_log(provider, smtp_settings, fake_smtp, caplog):
    caplog.set_level(logging.DEBUG)
    fake_smtp.refuse = {make_batch(smtp_settings, 1).recipients[0].email}  # some log output
    provider.send(make_batch(smtp_settings, 2))
    assert caplog.records
    assert TEST_SMTP_PASSWORD not in caplog.text + repr(provider) + repr(provider.target)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("smtp://u:p%40ss@mail.example.com:2525", SmtpTarget("mail.example.com", 2525, False, "u", "p@ss")),
        ("smtps://mail.example.com", SmtpTarget("mail.example.com", 465, True)),
        ("smtp://mail.example.com", SmtpTarget("mail.example.com", 587, False)),
    ],
)
def test_smtp_url_parsing(url, expected):
    assert SmtpTarget.parse(url) == expected


@pytest.mark.parametrize("url", ["http://u:secret@h", "smtp://u:secret@h:notaport", "smtp://", None])
def test_bad_smtp_url_names_the_variable_not_the_password(url):
    with pytest.raises(ConfigError, match="SMTP_URL") as info:
        SmtpTarget.parse(url)
    assert "secret" not in str(info.value)


def test_password_is_not_sent_in_clear_text_to_a_remote_host(make_settings):
    settings = make_settings(SMTP_URL="smtp://u:p@mail.example.com:25")
    provider = SmtpProvider(settings)

    class PlainConnection:
        sock = object()  # not an SSL socket

    with pytest.raises(ProviderError, match="clear text") as info:
        provider._login(PlainConnection())
    assert info.value.permanent


# ------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def loopback_cert():
    from fakes.tls import make_loopback_cert

    return make_loopback_cert()


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_tls_is_used_and_verified(make_settings, tmp_path, loopback_cert, implicit):
    server = FakeSmtp(username="digest", password=TEST_SMTP_PASSWORD,
                      tls_context=loopback_cert.server_context(tmp_path), implicit_tls=implicit).start()
    try:
        settings = make_settings(SMTP_URL=server.url)
        provider = SmtpProvider(settings, timeout=5, retry=FAST_RETRY, ssl_context=loopback_cert.client_context())
        batch = make_batch(settings, 2)
        result = provider.send(batch)
    finally:
        server.stop()
    assert set(result.per_recipient_ids) == {r.email for r in batch.recipients}
    assert [rec.tls for rec in server.received] == [True, True]
    assert {rec.authenticated_as for rec in server.received} == {"digest"}


def test_an_untrusted_certificate_is_a_permanent_error(make_settings, tmp_path, loopback_cert):
    server = FakeSmtp(tls_context=loopback_cert.server_context(tmp_path)).start()
    try:
        settings = make_settings(SMTP_URL=server.url)
        provider = SmtpProvider(settings, timeout=5, retry=FAST_RETRY)  # system CAs: not trusted
        with pytest.raises(ProviderError, match="TLS verification") as info:
            provider.send(make_batch(settings, 1))
    finally:
        server.stop()
    assert info.value.permanent and not server.received


def test_connection_lost_before_data_reconnects_and_sends_once(provider, smtp_settings, fake_smtp):
    batch = make_batch(smtp_settings, 4)
    cut = batch.recipients[2].email
    fake_smtp.drop_at_rcpt_once = {cut}

    result = provider.send(batch)

    assert set(result.per_recipient_ids) == {r.email for r in batch.recipients}
    assert not result.ambiguous and not result.rejected
    for r in batch.recipients:
        assert len(fake_smtp.messages_for(r.email)) == 1


def test_a_recipient_that_keeps_cutting_the_connection_is_given_up(smtp_settings, fake_smtp):
    provider = SmtpProvider(smtp_settings, timeout=5, retry=replace(FAST_RETRY, deadline=0.3))
    batch = make_batch(smtp_settings, 3)
    cut = batch.recipients[0].email

    class AlwaysCut(set):
        def discard(self, item):  # never forgets: every RCPT for it cuts the connection
            pass

    fake_smtp.drop_at_rcpt_once = AlwaysCut({cut})
    result = provider.send(batch)

    assert result.unsent[cut].startswith("not sent: temporarily refused") and not result.rejected
    assert set(result.per_recipient_ids) == {r.email for r in batch.recipients[1:]}
    assert fake_smtp.messages_for(cut) == []
