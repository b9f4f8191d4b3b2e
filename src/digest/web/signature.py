"""Verifying SendGrid's Signed Event Webhook.

SendGrid signs ``timestamp + raw body`` with ECDSA P-256 / SHA-256 and sends the
base64 DER signature and the timestamp in two headers. The verification key is shown in
SendGrid's settings as base64 DER (no PEM armour); a PEM block is accepted too.

The bytes verified are the body exactly as received: parsing and re-serialising the JSON
would change whitespace and break every signature.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from ..errors import ConfigError

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """Parse ``SENDGRID_WEBHOOK_PUBLIC_KEY``; the error never repeats the key itself."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode())
        else:
            key = load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise ConfigError(
            "SENDGRID_WEBHOOK_PUBLIC_KEY: not a base64 DER (or PEM) public key; copy the "
            "verification key from SendGrid's Event Webhook settings"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigError("SENDGRID_WEBHOOK_PUBLIC_KEY: expected an elliptic-curve (ECDSA P-256) key")
    return key


#: A DER-encoded ECDSA P-256 signature is 8 to 72 bytes; SendGrid's timestamp is Unix seconds.
_DER_BYTES = range(8, 73)


def headers_well_formed(signature: str | None, timestamp: str | None) -> bool:
    """Both headers present and shaped like SendGrid's: checked before the body is read,
    so a post that cannot be genuine costs no more than its headers."""
    if not signature or not timestamp or not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    if len(signature) > 100:
        return False
    try:
        return len(base64.b64decode(signature, validate=True)) in _DER_BYTES
    except (binascii.Error, ValueError):
        return False


def verify_signature(
    key: ec.EllipticCurvePublicKey, body: bytes, signature: str | None, timestamp: str | None
) -> bool:
    """True only when ``signature`` signs ``timestamp + body`` under ``key``."""
    if not signature or not timestamp:
        return False
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True
