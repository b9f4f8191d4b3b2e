"""Helpers for the web tests: subscribers, their state, and signed SendGrid posts."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from digest.models import Subscriber, Topic
from digest.runtime import Runtime


def public_key_b64(private_key: ec.EllipticCurvePrivateKey) -> str:
    """The form SendGrid shows the verification key in: base64 DER, no PEM armour."""
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sign(private_key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str = "1700000000") -> dict[str, str]:
    signature = private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def path_of(url: str) -> str:
    """``https://digest.test/unsubscribe/abc`` -> ``/unsubscribe/abc`` for the test client."""
    return "/" + url.split("/", 3)[3]


def add_subscriber(
    runtime: Runtime, email: str, *, topics=("gold",), status: str = "active",
    timezone: str = "America/Toronto", send_hour: int = 7,
) -> int:
    with runtime.session() as session:
        subscriber = Subscriber(email=email, status=status, timezone=timezone, send_hour=send_hour)
        subscriber.topics = list(session.scalars(select(Topic).where(Topic.slug.in_(topics))))
        session.add(subscriber)
        session.flush()
        return subscriber.id


def subscriber_state(runtime: Runtime, subscriber_id: int) -> dict:
    with runtime.session() as session:
        s = session.get(Subscriber, subscriber_id)
        return {
            "status": s.status,
            "status_changed_at": s.status_changed_at,
            "topics": s.topic_slugs,
            "timezone": s.timezone,
            "send_hour": s.send_hour,
        }
