from __future__ import annotations

import httpx
import pytest

from digest.ingest.fetch import make_client

from .feed_server import FIXTURES, FeedServer


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def client():
    """An HTTP client with a short timeout, so the timeout test is quick."""
    with make_client(httpx.Timeout(2.0, connect=2.0)) as c:
        yield c


@pytest.fixture
def fixtures_dir():
    return FIXTURES
