"""RFC 2045 6.7: every quoted-printable line of every part is at most 76 characters, on
the bytes the outbox writes and the bytes an SMTP server receives; the one-click headers
still parse as RFC 8058 asks (one https URL in angle brackets, the exact POST value)."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from digest.deliver.providers.outbox import OutboxProvider
from digest.deliver.providers.smtp import SmtpProvider

from fakes.batches import make_batch
from fakes.fixtures import FAST_RETRY, TEST_SMTP_PASSWORD, fake_smtp, smtp_settings  # noqa: F401

from .factories import sample_edition

ANGLE_URL = re.compile(r"^<(https://[^<>\s]+)>$")


@pytest.fixture(scope="module")
def body(renderer):
    # Sample content with long paragraphs and non-ASCII (en dashes, middle dots, euro signs).
    return renderer.render(sample_edition()).dated("America/Toronto")


def _qp_lines(raw: bytes) -> list[bytes]:
    """The lines of every quoted-printable part's encoded body, as written."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [p for p in message.walk() if p.get("Content-Transfer-Encoding", "").lower() == "quoted-printable"]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    lines = []
    for part in parts:
        lines += part.get_payload(decode=False).encode("ascii").splitlines()
    return lines


def _check(raw: bytes, unsubscribe_url: str) -> None:
    lines = _qp_lines(raw)
    assert len(lines) > 100
    too_long = [line for line in lines if len(line) > 76]
    assert too_long == [], f"{len(too_long)} QP lines over 76, e.g. {too_long[0][:90]!r}"
    assert max(len(line) for line in lines) == 76  # the limit is reached, not just undershot
    # Headers: unfolded, the URL intact, and exactly RFC 8058's POST value.
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert f"List-Unsubscribe: <{unsubscribe_url}>\r\n" in head + "\r\n"
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert ANGLE_URL.match(str(parsed["List-Unsubscribe"])).group(1) == unsubscribe_url
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert len(parsed.get_all("List-Unsubscribe")) == len(parsed.get_all("List-Unsubscribe-Post")) == 1
    # The decoded parts are the body that was rendered (the QP round-trips).
    assert "Source:" in parsed.get_body(("plain",)).get_content()
    assert unsubscribe_url in parsed.get_body(("html",)).get_content()


def test_outbox_files_wrap_quoted_printable_at_76(make_settings, body):
    settings = make_settings()
    batch = make_batch(settings, 2, body=body)
    OutboxProvider(settings).send(batch)
    files = sorted(settings.outbox_dir.glob("*.eml"))
    assert len(files) == 2
    for path, recipient in zip(files, batch.recipients):
        _check(path.read_bytes(), recipient.tokens["unsubscribe_url"])


def test_smtp_messages_wrap_quoted_printable_at_76(smtp_settings, fake_smtp, body):
    batch = make_batch(smtp_settings, 2, body=body)
    result = SmtpProvider(smtp_settings, timeout=5, retry=FAST_RETRY).send(batch)
    assert not result.rejected and not result.ambiguous
    assert len(fake_smtp.received) == 2
    for recipient in batch.recipients:
        [received] = [r for r in fake_smtp.received if r.rcpt_tos == (recipient.email,)]
        _check(received.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), recipient.tokens["unsubscribe_url"])
