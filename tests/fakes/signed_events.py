"""SendGrid's Signed Event Webhook from the sender's side: a key pair's public half in
the form SendGrid shows it, and the headers of a signed post (real ECDSA P-256)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


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
