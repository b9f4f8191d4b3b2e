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


@pytest.mark.parametrize("secret", ["test-secret-key-0123456789", "ünïcode secret ✓", "k" * 200])
def test_token_values_are_the_itsdangerous_tokens_of_every_link(secret):
    """token_values signs the three links itself (a million recipients an edition): each
    URL must be the one itsdangerous would make, and the one the single-link methods make."""
    links = LinkMaker("https://digest.test", secret)
    for subscriber_id in IDS:
        for body_id in (None, 7, 123_456):
            values = links.token_values(subscriber_id, "ann@example.com", body_id)
            expected = {
                purpose: URLSafeSerializer(secret, salt=f"digest.{purpose}").dumps(payload)
                for purpose, payload in (("unsubscribe", [subscriber_id]), ("preferences", [subscriber_id]),
                                         ("archive", [subscriber_id, body_id or 0]))
            }
            assert values == {
                "unsubscribe_url": f"https://digest.test/unsubscribe/{expected['unsubscribe']}",
                "preferences_url": f"https://digest.test/preferences/{expected['preferences']}",
                "archive_url": f"https://digest.test/archive/{expected['archive']}",
                "email": "ann@example.com",
            }
            assert values["unsubscribe_url"] == links.unsubscribe_url(subscriber_id)
            assert values["archive_url"] == links.archive_url(subscriber_id, body_id or 0)


def test_token_values_equal_itsdangerous_on_many_ids():
    """token_values signs on bytes from the maker's own SHA-1 states: on thousands of ids
    (every digit count, ids whose payload's base64 needs one, two or no padding) each URL
    is itsdangerous's token, as the web side verifies it, and the one make_token gives."""
    import random

    secret = "test-secret-key-0123456789"
    links = LinkMaker("https://digest.test", secret)
    reference = {purpose: URLSafeSerializer(secret, salt=f"digest.{purpose}") for purpose in PURPOSES}
    draw = random.Random(23)
    ids = [draw.randrange(10 ** draw.randrange(1, 19)) for _ in range(3000)] + list(range(0, 130))
    for subscriber_id in ids:
        body_id = draw.choice([None, 0, draw.randrange(1, 10**7)])
        values = links.token_values(subscriber_id, "ann@example.com", body_id)
        assert values == {
            "unsubscribe_url": "https://digest.test/unsubscribe/" + reference["unsubscribe"].dumps([subscriber_id]),
            "preferences_url": "https://digest.test/preferences/" + reference["preferences"].dumps([subscriber_id]),
            "archive_url": "https://digest.test/archive/" + reference["archive"].dumps([subscriber_id, body_id or 0]),
            "email": "ann@example.com",
        }
        assert values["archive_url"] == links.archive_url(subscriber_id, body_id or 0)
        assert read_token(secret, "unsubscribe", values["unsubscribe_url"].rsplit("/", 1)[1]).subscriber_id \
            == subscriber_id


def test_a_link_maker_pickles_without_its_hash_states():
    """A maker that has signed (and so holds SHA-1 states, which do not pickle) can still
    be sent to another process, and signs the same links there."""
    import pickle

    links = LinkMaker("https://digest.test", "test-secret-key-0123456789")
    signed = links.token_values(41, "ann@example.com", 7)
    copy = pickle.loads(pickle.dumps(links))
    assert copy == links
    assert copy.token_values(41, "ann@example.com", 7) == signed
