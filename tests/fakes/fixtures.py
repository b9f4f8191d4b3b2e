"""Pytest fixtures for the fake servers; import them into a test module (or conftest)."""

from __future__ import annotations

import pytest

from digest.deliver.providers.retry import RetryPolicy

from .sendgrid_server import FakeSendGrid
from .smtp_server import FakeSmtp

TEST_API_KEY = "SG.test-key-do-not-log-7f3a9c"
TEST_SMTP_PASSWORD = "smtp-pass-do-not-log-51e2"

#: Short enough that a failing test ends quickly, long enough for a few retries.
FAST_RETRY = RetryPolicy(deadline=3.0, initial_backoff=0.01, max_backoff=0.2, jitter=0.0, max_wait=2.0)


@pytest.fixture
def fake_sendgrid():
    with FakeSendGrid(api_key=TEST_API_KEY) as server:
        yield server


@pytest.fixture
def fake_smtp():
    server = FakeSmtp(username="digest", password=TEST_SMTP_PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sendgrid_settings(make_settings, fake_sendgrid):
    return make_settings(
        DIGEST_PROVIDER="sendgrid", SENDGRID_API_KEY=TEST_API_KEY, SENDGRID_API_HOST=fake_sendgrid.url
    )


@pytest.fixture
def smtp_settings(make_settings, fake_smtp):
    return make_settings(DIGEST_PROVIDER="smtp", SMTP_URL=fake_smtp.url)


@pytest.fixture
def sendgrid_env(db_url, fake_sendgrid, monkeypatch) -> dict[str, str]:
    """Environment for ``digest send`` (in-process or a subprocess) against the fake
    SendGrid server, on SQLite and then PostgreSQL (``db_url``); also set in
    ``os.environ`` for CliRunner."""
    from digest.settings import bundled_config_path

    env = {
        "DIGEST_CONFIG": str(bundled_config_path()),
        "DATABASE_URL": db_url,
        "DIGEST_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": TEST_API_KEY,
        "SENDGRID_API_HOST": fake_sendgrid.url,
        "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
        "DIGEST_BASE_URL": "https://digest.test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
