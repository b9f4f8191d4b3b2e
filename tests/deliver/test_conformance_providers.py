"""One conformance test, run against every provider: the same batch, and each recipient
gets exactly one message with their own tokens filled in everywhere."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Callable

import pytest

from digest.message import ONE_CLICK

from fakes.batches import make_batch
from fakes.fixtures import FAST_RETRY, fake_sendgrid, fake_smtp, sendgrid_settings, smtp_settings  # noqa: F401


@dataclass(frozen=True)
class Received:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def _from_mime(msg: EmailMessage) -> Received:
    return Received(
        to=str(msg["To"]), subject=str(msg["Subject"]),
        text=msg.get_body(("plain",)).get_content(), html=msg.get_body(("html",)).get_content(),
        # Long headers may be folded; compare their unfolded values.
        headers={k: str(v).strip() for k, v in msg.items()},
    )


def _outbox(make_settings, request):
    from digest.deliver.providers.outbox import OutboxProvider

    settings = make_settings()

    def received() -> list[Received]:
        files = sorted(settings.outbox_dir.rglob("*.eml"))
        return [_from_mime(email.message_from_bytes(f.read_bytes(), policy=email.policy.default)) for f in files]

    return settings, OutboxProvider(settings), received


def _sendgrid(make_settings, request):
    from digest.deliver.providers.sendgrid import SendGridProvider

    settings = request.getfixturevalue("sendgrid_settings")
    fake = request.getfixturevalue("fake_sendgrid")

    def received() -> list[Received]:
        return [Received(m.to, m.subject, m.text, m.html, dict(m.headers)) for m in fake.delivered]

    return settings, SendGridProvider(settings, timeout=5, retry=FAST_RETRY), received


def _smtp(make_settings, request):
    from digest.deliver.providers.smtp import SmtpProvider

    settings = request.getfixturevalue("smtp_settings")
    fake = request.getfixturevalue("fake_smtp")

    def received() -> list[Received]:
        return [_from_mime(r.message) for r in fake.received]

    return settings, SmtpProvider(settings, timeout=5, retry=FAST_RETRY), received


PROVIDERS: dict[str, Callable] = {"outbox": _outbox, "sendgrid": _sendgrid, "smtp": _smtp}


@pytest.mark.parametrize("kind", PROVIDERS)
def test_every_provider_sends_each_recipient_one_personal_copy(kind, make_settings, request):
    settings, provider, received = PROVIDERS[kind](make_settings, request)
    batch = make_batch(settings, 4)
    assert provider.name == kind and provider.max_recipients >= len(batch.recipients)

    result = provider.send(batch)
    provider.close()

    assert not result.rejected
    messages = received()
    assert sorted(m.to for m in messages) == sorted(r.email for r in batch.recipients)  # one each
    by_to = {m.to: m for m in messages}
    for r in batch.recipients:
        m = by_to[r.email]
        unsubscribe = r.tokens["unsubscribe_url"]
        assert m.subject == f"Ridgeline daily for {r.email}: copper and lithium"
        assert f'href="{unsubscribe}"' in m.html
        assert f"Unsubscribe: {unsubscribe}" in m.text
        assert r.tokens["preferences_url"] in m.html and r.tokens["preferences_url"] in m.text
        assert m.headers["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert m.headers["List-Unsubscribe-Post"] == ONE_CLICK
        assert m.headers["List-Id"] == "Ridgeline Resource Briefing <daily.ridgeline.example>"
        assert "Caf\u00e9 \u2014 \u20ac5" in m.html  # non-ASCII survives every path
        for part in (m.subject, m.text, m.html, *m.headers.values()):
            assert "%%" not in part
        others = {o.tokens["unsubscribe_url"] for o in batch.recipients if o is not r}
        assert not any(url in m.html or url in m.text for url in others)
