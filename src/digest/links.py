"""Signed per-subscriber links: unsubscribe, preferences, view in browser.

Tokens are signed with ``DIGEST_SECRET_KEY`` (itsdangerous) and carry no expiry: an
unsubscribe link must keep working for at least 60 days (CASL), and one that works
forever is what subscribers expect. A forged or altered token fails verification.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from dataclasses import dataclass
from functools import cached_property, lru_cache

from itsdangerous import BadData, URLSafeSerializer

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
    value = _payload(subscriber_id, body_id)
    return f"{value}.{_signature(secret, purpose, value)}"


_URLSAFE = bytes.maketrans(b"+/", b"-_")
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))  # RFC 2104's ipad and opad, as
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))  # translation tables over the key


def _b64url(data: bytes) -> bytes:
    """base64url without padding, as itsdangerous encodes (one C call, not base64's three)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def _b64(data: bytes) -> str:
    return _b64url(data).decode()


def _payload(subscriber_id: int, body_id: int | None) -> str:
    # Compact JSON of the ids, base64url without padding. itsdangerous would zlib-compress a
    # payload only when that made it shorter, which never happens for two integers.
    return _b64((f"[{subscriber_id}]" if body_id is None else f"[{subscriber_id},{body_id}]").encode())


def _signature(secret: str, purpose: str, value: str) -> str:
    """HMAC-SHA1 of ``value`` under the purpose's key, from its precomputed inner and
    outer hashes (RFC 2104: the same bytes as ``hmac``, without its per-token key setup
    and Python-level copies)."""
    return _mac(_keyed_pads(secret, purpose), value.encode()).decode()


def _mac(pads, value: bytes) -> bytes:
    """base64url HMAC-SHA1 of ``value`` from a key's (inner, outer) SHA-1 states."""
    inner = pads[0].copy()
    inner.update(value)
    outer = pads[1].copy()
    outer.update(inner.digest())
    return _b64url(outer.digest())


@lru_cache(maxsize=64)
def _keyed_pads(secret: str, purpose: str):
    """SHA-1 states that have absorbed the padded key, inner and outer, keyed as
    itsdangerous keys this secret and purpose (its default ``django-concat`` key
    derivation and SHA-1 HMAC, which :func:`read_token` verifies)."""
    signer = _serializer(secret, purpose).make_signer()
    if signer.key_derivation != "django-concat" or signer.digest_method().name != "sha1":
        raise RuntimeError("itsdangerous defaults changed: make_token must follow them")
    key = signer.derive_key()
    block = hashlib.sha1().block_size
    if len(key) > block:
        key = hashlib.sha1(key).digest()
    key = key.ljust(block, b"\0")
    return hashlib.sha1(key.translate(_INNER_PAD)), hashlib.sha1(key.translate(_OUTER_PAD))


@dataclass(frozen=True)
class TokenData:
    subscriber_id: int
    body_id: int | None = None


def read_token(secret: str, purpose: str, token: str) -> TokenData:
    """The ids a token carries; :class:`InvalidToken` for anything but the one spelling
    :func:`make_token` gives them.

    itsdangerous verifies the signature first (any of its ``BadData`` kinds, e.g. a token
    in its timed format, which it signs alike but cannot load here, is an invalid link).
    Base64 has several spellings of the same bytes (unused low bits of the last
    character, a JSON payload with spaces), all of which it accepts; a token is a
    credential, so only the canonical one, made again from its ids, is taken.
    """
    try:
        payload = _serializer(secret, purpose).loads(token)
    except BadData:
        raise InvalidToken(f"invalid or altered {purpose} link") from None
    if not (isinstance(payload, list) and 1 <= len(payload) <= 2
            and all(type(v) is int and v >= 0 for v in payload)):
        raise InvalidToken(f"malformed {purpose} link")
    data = TokenData(payload[0], payload[1] if len(payload) > 1 else None)
    if not hmac.compare_digest(make_token(secret, purpose, data.subscriber_id, data.body_id), token):
        raise InvalidToken(f"{purpose} link not in its canonical spelling")
    return data


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
        """Values for every token in :data:`digest.content.TOKEN_NAMES` (the same URLs as
        the methods above; the unsubscribe and preferences tokens share their payload).

        A million-reader edition calls this a million times: the three signatures are
        made here from this maker's own SHA-1 states (:attr:`_signing`, no cache lookup
        per token), on bytes, with each base64 step one C call (as :func:`make_token`,
        whose tokens these are byte for byte: ``tests/perf/test_tokens.py``)."""
        unsubscribe, preferences, archive = self._urls(subscriber_id, body_id)
        return {"unsubscribe_url": unsubscribe, "preferences_url": preferences, "archive_url": archive,
                "email": email}

    def substitutions(self, subscriber_id: int, email: str, body_id: int | None) -> dict[str, str]:
        """:meth:`token_values` keyed as SendGrid's substitutions (``%%name%%``), in the same
        order: the send path builds each reader's one dict so, used as it is by the request
        (:class:`digest.deliver.providers.Recipient`), instead of a second one per reader."""
        unsubscribe, preferences, archive = self._urls(subscriber_id, body_id)
        return {"%%unsubscribe_url%%": unsubscribe, "%%preferences_url%%": preferences,
                "%%archive_url%%": archive, "%%email%%": email}

    def _urls(self, subscriber_id: int, body_id: int | None) -> tuple[str, str, str]:
        """The unsubscribe, preferences and archive URLs (see :meth:`token_values`)."""
        if type(subscriber_id) is not int or (body_id is not None and type(body_id) is not int):
            return (self.unsubscribe_url(subscriber_id), self.preferences_url(subscriber_id),
                    self.archive_url(subscriber_id, body_id or 0))
        unsubscribe, preferences, archive, (u_url, p_url, a_url) = self._signing
        reader = _b64url(b"[%d]" % subscriber_id)
        edition = _b64url(b"[%d,%d]" % (subscriber_id, body_id or 0))
        reader_text = reader.decode()
        return (f"{u_url}{reader_text}.{_mac(unsubscribe, reader).decode()}",
                f"{p_url}{reader_text}.{_mac(preferences, reader).decode()}",
                f"{a_url}{edition.decode()}.{_mac(archive, edition).decode()}")

    def __getstate__(self) -> dict[str, str]:
        """Pickled without :attr:`_signing` (hash states do not pickle; made again on use)."""
        return {"base_url": self.base_url, "secret": self.secret}

    @cached_property
    def _signing(self):
        """The keyed SHA-1 states of the three purposes, and each link's URL up to its token."""
        return (*(_keyed_pads(self.secret, purpose) for purpose in PURPOSES),
                tuple(f"{self.base_url}/{purpose}/" for purpose in PURPOSES))
