"""Confirmation and welcome emails are transactional, not list mail: no List-Unsubscribe
or List-Unsubscribe-Post header (a digest keeps both), no open or click tracking, and
the outbox keeps every one of them (a second confirmation the same day is a second file)."""

from __future__ import annotations

import email
from datetime import date
from email.policy import default
from pathlib import Path

from digest.content import RenderedEmail
from digest.deliver.providers.outbox import OutboxProvider
from digest.deliver.providers.base import OutgoingBatch, Recipient, SendResult
from digest.deliver.providers.sendgrid_payload import build_payload
from digest.links import LinkMaker
from digest.message import build_message
from digest.models import Subscriber
from digest.settings import Tracking, load_settings
from digest.subscribers.confirmation import request_confirmation
from digest.subscribers.welcome import send_welcome

DAY = date(2026, 12, 6)


def settings(tmp_path):
    return load_settings({"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}", "DIGEST_OUTBOX": str(tmp_path / "outbox"),
                          "DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://digest.test"},
                         demo=True)


def reader() -> Subscriber:
    return Subscriber(id=42, email="new.reader@example.com", status="pending", timezone="Europe/Berlin", send_hour=6,
                      topics=[])


class Recording:
    name = "recording"
    max_recipients = 1000

    def __init__(self):
        self.batches: list[OutgoingBatch] = []

    def send(self, batch: OutgoingBatch) -> SendResult:
        self.batches.append(batch)
        return SendResult()


def test_two_confirmations_the_same_day_are_two_files_without_list_headers(tmp_path):
    s = settings(tmp_path)
    links = LinkMaker(s.base_url, s.secret_key)
    outbox = OutboxProvider(s)
    for _ in range(2):
        request_confirmation(outbox, s.config, links, reader(), hours=48, returning=False, today=DAY)
    send_welcome(outbox, s.config, links, reader())
    files = sorted(Path(s.outbox_dir).glob("*.eml"))
    assert len(files) == 3
    messages = [email.message_from_bytes(f.read_bytes(), policy=default) for f in files]
    assert len({m["Message-ID"] for m in messages}) == 3
    for message in messages:
        assert message["To"] == "new.reader@example.com"
        assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    assert sum("Welcome" in str(m["Subject"]) for m in messages) == 1


def test_the_batch_is_transactional_with_no_recipient_headers(tmp_path):
    s = settings(tmp_path)
    provider = Recording()
    request_confirmation(provider, s.config, LinkMaker(s.base_url, s.secret_key), reader(), hours=48, today=DAY)
    (batch,) = provider.batches
    assert batch.transactional is True
    assert [dict(r.headers) for r in batch.recipients] == [{}]


def test_build_message_leaves_the_list_headers_out_only_when_transactional(tmp_path):
    config = settings(tmp_path).config
    body = RenderedEmail(subject="Hello", preheader="", html="<p>Hi</p>", text="Hi\n")
    tokens = {"unsubscribe_url": "https://digest.test/unsubscribe/t"}
    digest = build_message(body, config=config, to="a@example.com", tokens=tokens)
    assert digest["List-Unsubscribe"] == "<https://digest.test/unsubscribe/t>"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one = build_message(body, config=config, to="a@example.com", tokens=tokens, transactional=True)
    assert one["List-Unsubscribe"] is None and one["List-Unsubscribe-Post"] is None
    assert one["Message-ID"] and one["Date"] and one["From"] == digest["From"]


def test_sendgrid_never_tracks_a_transactional_message(tmp_path):
    config = settings(tmp_path).config
    config = config.model_copy(update={"tracking": Tracking(open=True, click=True)})
    body = RenderedEmail(subject="Confirm", preheader="", html="<p>Confirm</p>", text="Confirm\n")
    recipient = Recipient(1, 1, "a@example.com", {}, {})
    digest = build_payload(OutgoingBatch(1, 1, DAY, body, [recipient]), config)
    assert digest["tracking_settings"] == {"click_tracking": {"enable": True, "enable_text": True},
                                           "open_tracking": {"enable": True}}
    one = build_payload(OutgoingBatch(0, 0, DAY, body, [recipient], transactional=True), config)
    assert one["tracking_settings"] == {"click_tracking": {"enable": False, "enable_text": False},
                                        "open_tracking": {"enable": False}}
    assert one["personalizations"][0]["headers"] == {}
