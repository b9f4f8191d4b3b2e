"""The fast token signer makes exactly the tokens itsdangerous makes, so the web side
(which verifies with itsdangerous) accepts every link already sent, and vice versa."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from digest.links import PURPOSES, InvalidToken, LinkMaker, make_token, read_token

IDS = [0, 1, 9, 10, 99_999, 1_000_000, 2**31 + 5, 2**53]


@pytest.mark.parametrize("secret", ["test-secret-key-0123456789", "ünïcode secret ✓"])
@pytest.mark.parametrize("purpose", PURPOSES)
def test_tokens_are_byte_identical_to_itsdangerous(secret, purpose):
    reference = URLSafeSerializer(secret, salt=f"digest.{purpose}")
    for subscriber_id in IDS:
        for body_id in (None, 0, 7, 123_456):
            payload = [subscriber_id] if body_id is None else [subscriber_id, body_id]
            token = make_token(secret, purpose, subscriber_id, body_id)
            assert token == reference.dumps(payload)
            assert read_token(secret, purpose, token).subscriber_id == subscriber_id


def test_a_token_for_one_purpose_or_secret_is_refused_for_another():
    token = make_token("secret-a", "unsubscribe", 42)
    with pytest.raises(InvalidToken):
        read_token("secret-a", "preferences", token)
    with pytest.raises(InvalidToken):
        read_token("secret-b", "unsubscribe", token)


def test_link_maker_urls_carry_the_same_tokens():
    links = LinkMaker("https://digest.test", "test-secret-key-0123456789")
    values = links.token_values(5, "ann@example.com", 9)
    archive = URLSafeSerializer("test-secret-key-0123456789", salt="digest.archive").dumps([5, 9])
    assert values["archive_url"] == f"https://digest.test/archive/{archive}"
    assert values["email"] == "ann@example.com"
