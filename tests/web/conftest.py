"""Fixtures for the web process: an app on the ``runtime`` database (SQLite, then
PostgreSQL) and a webhook key pair. Plain helpers live in ``web_helpers.py``."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from digest.links import LinkMaker
from digest.runtime import Runtime
from digest.web import create_app
from fakes.live_server import live_server
from web_helpers import public_key_b64


@pytest.fixture(scope="session")
def webhook_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def web_runtime(runtime, webhook_private_key) -> Runtime:
    """The ``runtime`` (SQLite, then PostgreSQL) with the webhook verification key set."""
    settings = runtime.settings.with_overrides(sendgrid_webhook_public_key=public_key_b64(webhook_private_key))
    return dataclasses.replace(runtime, settings=settings)


@pytest.fixture
def client(web_runtime):
    with TestClient(create_app(web_runtime), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def links(web_runtime) -> LinkMaker:
    settings = web_runtime.settings
    return LinkMaker(settings.base_url, settings.require_secret_key())


@pytest.fixture
def live(sqlite_url, make_settings):
    """``digest web``'s app on a real server, for the browser tests: (runtime, links). One
    backend is enough for a page flow."""
    from test_web_process import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = Runtime.open(make_settings(sqlite_url, DIGEST_BASE_URL=base))
    with live_server(create_app(runtime), port, "web server"):
        yield runtime, LinkMaker(base, runtime.settings.secret_key)
    runtime.close()
