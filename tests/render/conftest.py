from __future__ import annotations

from datetime import datetime, timezone

import pytest

from digest.content import TOKEN_NAMES
from digest.links import LinkMaker
from digest.message import build_message
from digest.render import Renderer

from .factories import sample_config

SUBSCRIBER_ID = 42
EMAIL = "reader@example.com"
#: When the test emails are "sent" (the heading's date).
SENT_AT = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def config():
    return sample_config()


@pytest.fixture(scope="session")
def renderer(config):
    """One renderer for the whole session, as production builds one per process."""
    return Renderer(config)


@pytest.fixture(scope="session")
def token_values() -> dict[str, str]:
    values = LinkMaker("https://digest.test", "test-secret").token_values(SUBSCRIBER_ID, EMAIL, body_id=7)
    assert set(values) == set(TOKEN_NAMES)
    return values


@pytest.fixture(scope="session")
def to_message(config, token_values):
    """RenderedEmail -> the EmailMessage a subscriber gets (tokens filled)."""

    def _build(rendered):
        return build_message(
            rendered.dated("UTC", SENT_AT), config=config, to=EMAIL, tokens=token_values,
            date=datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc),
        )

    return _build
