"""SendGrid's Signed Event Webhook: real ECDSA P-256 signatures made in the test."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from starlette.testclient import TestClient

from digest.models import ProviderEvent, Subscriber
from digest.runtime import Runtime
from digest.web import create_app
from digest.web.sendgrid_events import suppression_for
from web_helpers import add_subscriber, sign, subscriber_state

URL = "/webhooks/sendgrid"


def event(kind: str, email: str, event_id: str, **extra) -> dict:
    return {"email": email, "event": kind, "sg_event_id": event_id, "timestamp": 1700000000,
            "custom_args": {"edition_id": "3", "batch_id": "12"}, **extra}


def post_events(client, key, events, *, timestamp: str = "1700000123"):
    # Deliberately not json.dumps' default spacing: the signature covers the raw bytes.
    body = json.dumps(events, indent=1).encode()
    return client.post(URL, content=body, headers=sign(key, body, timestamp))


def stored_events(runtime: Runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(ProviderEvent))


def test_valid_signed_bounce_suppresses_and_keeps_the_payload(client, web_runtime, webhook_private_key):
    sid = add_subscriber(web_runtime, "hard@example.com")
    response = post_events(client, webhook_private_key, [event("bounce", "hard@example.com", "ev-1", type="bounce")])
    assert response.status_code == 200
    assert subscriber_state(web_runtime, sid)["status"] == "bounced"
    with web_runtime.session() as session:
        stored = session.scalars(select(ProviderEvent)).one()
        assert (stored.provider, stored.event_id, stored.event, stored.email) == (
            "sendgrid", "ev-1", "bounce", "hard@example.com")
        assert stored.payload["custom_args"] == {"edition_id": "3", "batch_id": "12"}


@pytest.mark.parametrize(
    "headers_for",
    [
        lambda key, body: {},  # unsigned
        lambda key, body: sign(key, body + b" "),  # signature of other bytes
        lambda key, body: sign(ec.generate_private_key(ec.SECP256R1()), body),  # someone else's key
        lambda key, body: {**sign(key, body), "X-Twilio-Email-Event-Webhook-Timestamp": "1700000001"},
        lambda key, body: {**sign(key, body), "X-Twilio-Email-Event-Webhook-Signature": "bm90IGEgc2lnbmF0dXJl"},
        lambda key, body: {**sign(key, body), "X-Twilio-Email-Event-Webhook-Signature": "%%%"},
    ],
    ids=["unsigned", "other-body", "other-key", "other-timestamp", "garbage-signature", "not-base64"],
)
def test_bad_signature_is_403_and_changes_nothing(client, web_runtime, webhook_private_key, headers_for):
    sid = add_subscriber(web_runtime, "keep@example.com")
    body = json.dumps([event("spamreport", "keep@example.com", "ev-2")]).encode()
    response = client.post(URL, content=body, headers=headers_for(webhook_private_key, body))
    assert response.status_code == 403
    assert subscriber_state(web_runtime, sid)["status"] == "active"
    assert stored_events(web_runtime) == 0


def test_repeated_event_id_is_ignored(client, web_runtime, webhook_private_key):
    sid = add_subscriber(web_runtime, "back@example.com")
    first = [event("unsubscribe", "back@example.com", "ev-3")]
    assert post_events(client, webhook_private_key, first).json()["suppressed"] == 1
    # The reader resubscribes; SendGrid then retries the same post: it must not undo that.
    with web_runtime.session() as session:
        session.get(Subscriber, sid).status = "active"
    again = post_events(client, webhook_private_key, first + first)
    assert again.status_code == 200
    assert again.json()["repeat"] == 2
    assert subscriber_state(web_runtime, sid)["status"] == "active"
    assert stored_events(web_runtime) == 1


def test_each_suppressing_event_moves_the_right_status(client, web_runtime, webhook_private_key):
    ids = {name: add_subscriber(web_runtime, f"{name}@example.com") for name in
           ("spam", "unsub", "group", "dropbounce", "blocked", "delivered", "dropcontent")}
    events = [
        event("spamreport", "spam@example.com", "e1"),
        event("unsubscribe", "UNSUB@example.com", "e2"),  # case differs from the stored address
        event("group_unsubscribe", "group@example.com", "e3", asm_group_id=1),
        event("dropped", "dropbounce@example.com", "e4", reason="Bounced Address"),
        event("bounce", "blocked@example.com", "e5", type="blocked"),
        event("delivered", "delivered@example.com", "e6"),
        event("dropped", "dropcontent@example.com", "e7", reason="Spam Content (if spam checker app enabled)"),
        event("bounce", "stranger@example.com", "e8", type="bounce"),
        "not an event",
    ]
    response = post_events(client, webhook_private_key, events)
    assert response.status_code == 200
    statuses = {name: subscriber_state(web_runtime, sid)["status"] for name, sid in ids.items()}
    assert statuses == {
        "spam": "complained", "unsub": "unsubscribed", "group": "unsubscribed",
        "dropbounce": "bounced", "blocked": "active", "delivered": "active", "dropcontent": "active",
    }
    assert stored_events(web_runtime) == 8
    assert response.json()["malformed"] == 1


def test_a_complaint_after_an_unsubscribe_still_wins(client, web_runtime, webhook_private_key):
    sid = add_subscriber(web_runtime, "later@example.com", status="unsubscribed")
    post_events(client, webhook_private_key, [event("spamreport", "later@example.com", "e9")])
    assert subscriber_state(web_runtime, sid)["status"] == "complained"


def test_signed_but_not_a_json_array_is_400(client, webhook_private_key):
    for body in (b"{\"event\": \"bounce\"}", b"not json"):
        assert client.post(URL, content=body, headers=sign(webhook_private_key, body)).status_code == 400


def test_without_a_configured_key_every_post_is_refused_and_logged_once(runtime, webhook_private_key, caplog):
    sid = add_subscriber(runtime, "nokey@example.com")
    assert runtime.settings.sendgrid_webhook_public_key is None
    body = json.dumps([event("bounce", "nokey@example.com", "e10", type="bounce")]).encode()
    with caplog.at_level(logging.ERROR, logger="digest.web"), TestClient(create_app(runtime)) as client:
        for _ in range(3):
            assert client.post(URL, content=body, headers=sign(webhook_private_key, body)).status_code == 403
    errors = [r for r in caplog.records if "SENDGRID_WEBHOOK_PUBLIC_KEY" in r.getMessage()]
    assert len(errors) == 1
    assert subscriber_state(runtime, sid)["status"] == "active"


def test_a_malformed_key_is_refused_without_logging_the_key(runtime, webhook_private_key, caplog):
    broken = Runtime(runtime.settings.with_overrides(sendgrid_webhook_public_key="c2VjcmV0LWtleS10ZXh0"),
                     runtime.engine, runtime.sessions)
    body = b"[]"
    with caplog.at_level(logging.ERROR, logger="digest.web"), TestClient(create_app(broken)) as client:
        assert client.post(URL, content=body, headers=sign(webhook_private_key, body)).status_code == 403
    assert "not a base64 DER" in caplog.text
    assert "c2VjcmV0LWtleS10ZXh0" not in caplog.text


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"event": "bounce", "type": "bounce"}, "bounced"),
        ({"event": "bounce"}, "bounced"),
        ({"event": "bounce", "type": "blocked"}, None),
        ({"event": "dropped", "reason": "Invalid"}, "bounced"),
        ({"event": "dropped", "reason": "Spam Reporting Address"}, "complained"),
        ({"event": "dropped", "reason": "Unsubscribed Address"}, "unsubscribed"),
        ({"event": "dropped", "reason": "Invalid SMTPAPI header"}, None),
        ({"event": "deferred"}, None),
        ({"event": "open"}, None),
    ],
)
def test_suppression_table(payload, expected):
    assert suppression_for(payload) == expected
