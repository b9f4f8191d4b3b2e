"""Signed per-subscriber links: unsubscribe, preferences, view in browser.

Tokens are signed with ``DIGEST_SECRET_KEY`` (itsdangerous) and carry no expiry: an
unsubscribe link must keep working for at least 60 days (CASL), and one that works
forever is what subscribers expect. A forged or altered token fails verification.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

from .errors import DigestError

PURPOSES = ("unsubscribe", "preferences", "archive")


class InvalidToken(DigestError):
    pass


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return URLSafeSerializer(secret, salt=f"digest.{purpose}")


def make_token(secret: str, purpose: str, subscriber_id: int, body_id: int | None = None) -> str:
    """The same token ``URLSafeSerializer(secret, salt).dumps([subscriber_id, body_id])``
    makes, without building a serializer and deriving its key on every call: a million
    recipients need three tokens each."""
    if type(subscriber_id) is not int or (body_id is not None and type(body_id) is not int):
        payload: list = [subscriber_id] if body_id is None else [subscriber_id, body_id]
        return _serializer(secret, purpose).dumps(payload)
    # Compact JSON of the ids, base64url without padding. itsdangerous would zlib-compress a
    # payload only when that made it shorter, which never happens for two integers.
    json = f"[{subscriber_id}]" if body_id is None else f"[{subscriber_id},{body_id}]"
    value = base64.urlsafe_b64encode(json.encode()).rstrip(b"=")
    mac = _keyed_hmac(secret, purpose).copy()
    mac.update(value)
    signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=")
    return f"{value.decode()}.{signature.decode()}"


@lru_cache(maxsize=64)
def _keyed_hmac(secret: str, purpose: str) -> hmac.HMAC:
    """An HMAC keyed as itsdangerous keys this secret and purpose (its default
    ``django-concat`` key derivation and SHA-1 HMAC, which :func:`read_token` verifies);
    copied for each token, so the key is processed once."""
    signer = _serializer(secret, purpose).make_signer()
    if signer.key_derivation != "django-concat" or signer.digest_method().name != "sha1":
        raise RuntimeError("itsdangerous defaults changed: make_token must follow them")
    return hmac.new(signer.derive_key(), digestmod=hashlib.sha1)


@dataclass(frozen=True)
class TokenData:
    subscriber_id: int
    body_id: int | None = None


def read_token(secret: str, purpose: str, token: str) -> TokenData:
    try:
        payload = _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise InvalidToken(f"invalid or altered {purpose} link") from None
    if not (isinstance(payload, list) and payload and all(isinstance(v, int) for v in payload)):
        raise InvalidToken(f"malformed {purpose} link")
    return TokenData(payload[0], payload[1] if len(payload) > 1 else None)


@dataclass(frozen=True)
class LinkMaker:
    """Builds the per-recipient URLs that fill a rendered body's tokens."""

    base_url: str
    secret: str

    def unsubscribe_url(self, subscriber_id: int) -> str:
        return f"{self.base_url}/unsubscribe/{make_token(self.secret, 'unsubscribe', subscriber_id)}"

    def preferences_url(self, subscriber_id: int) -> str:
        return f"{self.base_url}/preferences/{make_token(self.secret, 'preferences', subscriber_id)}"

    def archive_url(self, subscriber_id: int, body_id: int) -> str:
        return f"{self.base_url}/archive/{make_token(self.secret, 'archive', subscriber_id, body_id)}"

    def token_values(self, subscriber_id: int, email: str, body_id: int | None) -> dict[str, str]:
        """Values for every token in :data:`digest.content.TOKEN_NAMES`."""
        return {
            "unsubscribe_url": self.unsubscribe_url(subscriber_id),
            "preferences_url": self.preferences_url(subscriber_id),
            "archive_url": self.archive_url(subscriber_id, body_id or 0),
            "email": email,
        }
