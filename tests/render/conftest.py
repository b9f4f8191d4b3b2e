from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.content import TOKEN_NAMES
from digest.links import LinkMaker
from digest.message import build_message
from digest.render import Renderer

from .factories import sample_config

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
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


@pytest.fixture(scope="module")
def browser(chromium_path, playwright_api):
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_outbox(tmp_path_factory) -> list[Path]:
    """The demo's emails, as a new user gets them: ``digest demo`` in an empty folder."""
    workdir = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "DATABASE_URL"))}
    result = subprocess.run([str(Path(sys.executable).with_name("digest")), "demo"], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    emails = sorted((workdir / "outbox").glob("*.eml"))
    assert len(emails) == 8, result.stdout
    return emails


#: The emails the spam and accessibility checks run on (see :func:`checked_emails`).
CHECKED_EMAILS = tuple(f"demo-{i}" for i in range(1, 9)) + ("sponsored", "13-items")


@pytest.fixture(scope="session")
def checked_emails(demo_outbox, renderer, to_message) -> dict[str, bytes]:
    """The emails the spam and accessibility checks run on: the demo's eight, a sponsored
    edition and a 13-item one (every email is also looked at in the dark scheme)."""
    from .factories import contents_edition, sample_edition

    emails = {f"demo-{i + 1}": path.read_bytes() for i, path in enumerate(demo_outbox)}
    emails["sponsored"] = to_message(renderer.render(sample_edition())).as_bytes()
    emails["13-items"] = to_message(renderer.render(contents_edition())).as_bytes()
    assert tuple(emails) == CHECKED_EMAILS
    return emails


def html_part(raw: bytes) -> str:
    return email.message_from_bytes(raw, policy=email.policy.default).get_body(("html",)).get_content()
