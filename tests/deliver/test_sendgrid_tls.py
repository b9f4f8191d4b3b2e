"""SendGridProvider over HTTPS, against the local v3 mail/send server on loopback with
its listening socket wrapped in TLS: one TLS context per provider, made when the provider
is built, with certificate and hostname verification still on.

The client trusts the test certificate the way an operator would trust a private CA:
``SSL_CERT_FILE`` names its PEM file. ``ssl.create_default_context()`` loads the default
verify paths (``load_default_certs`` -> ``set_default_verify_paths``), and OpenSSL reads
``SSL_CERT_FILE``/``SSL_CERT_DIR`` from the environment when that runs, so the variable
must be set before the provider is built (monkeypatch.setenv also sets the C-level
environment that OpenSSL reads)."""

from __future__ import annotations

import io
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from digest.deliver.providers.base import ProviderError
from digest.deliver.providers.retry import RetryPolicy
from digest.deliver.providers.sendgrid import SendGridProvider
from digest.deliver.providers.sendgrid_payload import build_payload, encode_payload

from fakes.batches import make_batch
from fakes.fixtures import FAST_RETRY, TEST_API_KEY
from fakes.sendgrid_server import FakeSendGrid
from fakes.tls import LoopbackCert, make_loopback_cert

#: A refused handshake is retried like a refused connection; this keeps those tests short.
SHORT_RETRY = RetryPolicy(deadline=0.3, initial_backoff=0.01, max_backoff=0.05, jitter=0.0, max_wait=0.1)


@pytest.fixture(scope="module")
def trusted_cert() -> LoopbackCert:
    return make_loopback_cert()


@pytest.fixture
def trust_test_ca(tmp_path, monkeypatch, trusted_cert) -> Path:
    """Trust the test certificate (self-signed, CA:TRUE, for 127.0.0.1) as an operator
    would: SSL_CERT_FILE names its PEM. It replaces the default CA file (the default CA
    directory is still searched; it does not hold this certificate)."""
    ca = tmp_path / "test-ca.pem"
    ca.write_bytes(trusted_cert.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    return ca


class TlsSendGrid:
    """A FakeSendGrid whose listening socket speaks TLS with ``cert``, recording every POST
    as it arrived (path, headers, raw body, negotiated ALPN protocol and TLS version)."""

    def __init__(self, cert: LoopbackCert, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        server_context = cert.server_context(folder)
        server_context.set_alpn_protocols(["http/1.1"])  # to see what the client offers
        self.fake = FakeSendGrid(api_key=TEST_API_KEY).start()
        self.wire = _record(self.fake)
        server = self.fake._server
        # Same file descriptor (wrap_socket detaches the plain socket), so serve_forever's
        # selector keeps watching it; accept() then does the server side of the handshake.
        server.socket = server_context.wrap_socket(server.socket, server_side=True)

    def url(self, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.fake.port}"

    def stop(self) -> None:
        self.fake.stop()


@pytest.fixture
def tls_sendgrid(tmp_path, trusted_cert):
    server = TlsSendGrid(trusted_cert, tmp_path / "server")
    yield server
    server.stop()


@pytest.fixture
def untrusted_sendgrid(tmp_path):
    """Speaks TLS with a certificate no one trusts (a fresh self-signed one)."""
    server = TlsSendGrid(make_loopback_cert(), tmp_path / "untrusted")
    yield server
    server.stop()


@pytest.fixture
def fake_sendgrid_plain():
    with FakeSendGrid(api_key=TEST_API_KEY) as server:
        yield server


def _record(fake: FakeSendGrid) -> list[dict]:
    seen: list[dict] = []
    base = fake._server.RequestHandlerClass

    class Recording(base):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            tls = self.connection.version() if hasattr(self.connection, "version") else None
            alpn = self.connection.selected_alpn_protocol() if tls else None
            with fake.lock:
                seen.append({"path": self.path, "headers": dict(self.headers), "raw": raw, "tls": tls, "alpn": alpn})
            socket_file, self.rfile = self.rfile, io.BytesIO(raw)
            try:
                super().do_POST()
            finally:
                self.rfile = socket_file

    fake._server.RequestHandlerClass = Recording
    return seen


def _settings(make_settings, url: str):
    return make_settings(DIGEST_PROVIDER="sendgrid", SENDGRID_API_KEY=TEST_API_KEY, SENDGRID_API_HOST=url)


def _without_host(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name != "Host"}


def _https_context(provider: SendGridProvider) -> ssl.SSLContext | None:
    return provider._opener.tls_context  # every connection's (sendgrid_transport.KeptAliveOpener)


# ------------------------------------------------------------ it works, and the same


def test_a_batch_sent_over_https_arrives_as_it_does_over_http(
    make_settings, trust_test_ca, tls_sendgrid, fake_sendgrid_plain
):
    plain_wire = _record(fake_sendgrid_plain)
    over_tls = _settings(make_settings, tls_sendgrid.url())
    over_http = _settings(make_settings, fake_sendgrid_plain.url)
    batch = make_batch(over_tls, 5)

    tls_result = SendGridProvider(over_tls, timeout=5, retry=FAST_RETRY).send(batch)
    SendGridProvider(over_http, timeout=5, retry=FAST_RETRY).send(batch)

    [tls_request], [plain_request] = tls_sendgrid.wire, plain_wire
    assert tls_request["tls"] in ("TLSv1.2", "TLSv1.3") and plain_request["tls"] is None
    assert tls_request["raw"] == plain_request["raw"] == encode_payload(build_payload(batch, over_tls.config))
    assert tls_request["path"] == plain_request["path"] == "/v3/mail/send"
    assert _without_host(tls_request["headers"]) == _without_host(plain_request["headers"])
    assert tls_request["headers"]["Authorization"] == f"Bearer {TEST_API_KEY}"
    # The handshake offers what http.client offers when it makes the context itself.
    assert tls_request["alpn"] == "http/1.1"
    delivered = tls_sendgrid.fake.delivered
    assert sorted(m.to for m in delivered) == sorted(r.email for r in batch.recipients)
    assert tls_result.message_id == delivered[0].message_id


def test_the_context_is_http_clients_default_with_verification_on(make_settings, trust_test_ca, tls_sendgrid):
    context = _https_context(SendGridProvider(_settings(make_settings, tls_sendgrid.url())))

    assert context is not None, "urllib would make a new context for every request"
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.post_handshake_auth in (True, None)  # None: OpenSSL without TLS 1.3 PHA
    assert context.protocol == ssl.PROTOCOL_TLS_CLIENT
    stock = ssl.create_default_context()
    assert (context.options, context.verify_flags, context.minimum_version, context.maximum_version) == (
        stock.options, stock.verify_flags, stock.minimum_version, stock.maximum_version
    )


# ------------------------------------------------------------ one context, not one per request


def test_five_sends_make_one_tls_context_when_the_provider_is_built(
    make_settings, trust_test_ca, tls_sendgrid, monkeypatch
):
    settings = _settings(make_settings, tls_sendgrid.url())
    made: list[str] = []

    def counting(name, make):
        def wrapper(*args, **kwargs):
            made.append(name)
            return make(*args, **kwargs)
        return wrapper

    # http.client calls ssl._create_default_https_context() (the same function as
    # create_default_context, under another name) when it is given no context.
    monkeypatch.setattr(ssl, "create_default_context", counting("create_default_context", ssl.create_default_context))
    monkeypatch.setattr(ssl, "_create_default_https_context",
                        counting("_create_default_https_context", ssl._create_default_https_context))

    provider = SendGridProvider(settings, timeout=5, retry=FAST_RETRY)
    made_when_built = list(made)
    for n in range(5):
        provider.send(make_batch(settings, 2, batch_id=200 + n, first_subscriber=1 + 2 * n))

    assert made == ["create_default_context"]  # urllib left alone: 5 x _create_default_https_context
    assert made_when_built == made
    assert len(tls_sendgrid.wire) == 5 and {r["tls"] for r in tls_sendgrid.wire} <= {"TLSv1.2", "TLSv1.3"}
    assert len(tls_sendgrid.fake.delivered) == 10


def test_one_context_serves_8_threads_at_once(make_settings, trust_test_ca, tls_sendgrid):
    settings = _settings(make_settings, tls_sendgrid.url())
    provider = SendGridProvider(settings, timeout=5, retry=FAST_RETRY)
    batches = [make_batch(settings, 10, batch_id=300 + n, first_subscriber=1 + 10 * n) for n in range(24)]
    tls_sendgrid.fake.delay_next(0.05, times=8)  # the first eight are in flight together

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(provider.send, batches))

    assert len({r.message_id for r in results}) == 24
    counts = tls_sendgrid.fake.delivery_counts()
    assert len(counts) == 24 * 10 and set(counts.values()) == {1}
    sent = {encode_payload(build_payload(b, settings.config)) for b in batches}
    assert {r["raw"] for r in tls_sendgrid.wire} == sent


# ------------------------------------------------------------ verification is still on


def _refused(provider: SendGridProvider, settings, server: TlsSendGrid, match: str) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    provider.retry = replace(SHORT_RETRY, sleep=sleep)
    with pytest.raises(ProviderError) as info:
        provider.send(make_batch(settings, 2))
    error = info.value
    # The handshake failed before the request was written: urllib raised URLError, the
    # provider's "could not reach" Retryable, retried until the deadline, then a transient
    # error. Never ambiguous (nothing can have been delivered), never permanent.
    assert "could not reach" in str(error) and match in str(error)
    assert not error.ambiguous and not error.permanent
    assert slept, "a refused handshake is retried like a refused connection"
    assert server.fake.attempts == 0 and not server.fake.delivered and not server.wire


def test_a_certificate_signed_by_no_trusted_ca_is_refused(make_settings, trust_test_ca, untrusted_sendgrid):
    settings = _settings(make_settings, untrusted_sendgrid.url())
    _refused(SendGridProvider(settings, timeout=5), settings, untrusted_sendgrid, "CERTIFICATE_VERIFY_FAILED")


def test_a_certificate_for_another_host_is_refused(make_settings, trust_test_ca, tls_sendgrid):
    """The certificate is trusted but names 127.0.0.1; the provider connects to localhost."""
    settings = _settings(make_settings, tls_sendgrid.url(host="localhost"))
    _refused(SendGridProvider(settings, timeout=5), settings, tls_sendgrid, "Hostname mismatch")


def test_without_ssl_cert_file_the_test_ca_is_not_trusted(make_settings, monkeypatch, tls_sendgrid):
    """So the tests above pass because of SSL_CERT_FILE, not because nothing is checked."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    settings = _settings(make_settings, tls_sendgrid.url())
    _refused(SendGridProvider(settings, timeout=5), settings, tls_sendgrid, "CERTIFICATE_VERIFY_FAILED")


def test_ssl_cert_file_is_read_when_the_provider_is_built(make_settings, monkeypatch, tmp_path, trusted_cert,
                                                          tls_sendgrid):
    """Set after the provider was built, it is not seen (it was, per request, before the
    context was shared): an operator sets it before the process starts."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    settings = _settings(make_settings, tls_sendgrid.url())
    provider = SendGridProvider(settings, timeout=5)
    ca = tmp_path / "late-ca.pem"
    ca.write_bytes(trusted_cert.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))

    _refused(provider, settings, tls_sendgrid, "CERTIFICATE_VERIFY_FAILED")

    SendGridProvider(settings, timeout=5, retry=FAST_RETRY).send(make_batch(settings, 2))  # built after: trusted
    assert len(tls_sendgrid.fake.delivered) == 2
