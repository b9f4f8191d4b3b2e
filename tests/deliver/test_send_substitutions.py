"""Each reader's values are built once, keyed as SendGrid's substitutions (``%%name%%``):
the request takes that dict as it is, and SMTP and the outbox read the same values by
name. The request must stay byte for byte the one built from the tokens by name."""

from __future__ import annotations

from datetime import date, datetime, timezone

import orjson

from digest.content import RenderedEmail
from digest.date_tokens import date_token
from digest.deliver.dates import dated_for_zones
from digest.deliver.providers import OutgoingBatch, Recipient
from digest.deliver.providers.base import SubstitutedTokens, frame_message, substituted
from digest.deliver.providers.sendgrid_payload import build_payload
from digest.deliver.recipients import _recipients
from digest.links import LinkMaker
from digest.message import recipient_headers
from fakes.samples import sample_config

LATE = datetime(2026, 11, 26, 23, 30, tzinfo=timezone.utc)  # 26 Nov in London, 27 Nov in Kolkata
LINKS = LinkMaker("https://digest.test", "test-secret-key-0123456789")
ROWS = [(101, 5, "ann@example.com", "Europe/London"), (102, 6, "bob@example.com", "Asia/Kolkata")]


def body() -> RenderedEmail:
    text = f"{date_token(LATE)} %%unsubscribe_url%% %%preferences_url%% %%archive_url%% %%email%%"
    return RenderedEmail("Digest", "pre", f"<p>{text}</p>", text,
                         frozenset({"unsubscribe_url", "preferences_url", "archive_url", "email"}))


def test_a_readers_substitutions_are_their_links_then_their_zones_dates():
    dated = dated_for_zones(body(), {row[3] for row in ROWS})
    ann, bob = _recipients(ROWS, 9, LINKS, dated)
    links = LINKS.token_values(6, "bob@example.com", 9)
    assert list(bob.substitutions.items()) == [
        ("%%unsubscribe_url%%", links["unsubscribe_url"]), ("%%preferences_url%%", links["preferences_url"]),
        ("%%archive_url%%", links["archive_url"]), ("%%email%%", "bob@example.com"), ("%%date_1%%", "27 Nov 2026")]
    assert ann.substitutions["%%date_1%%"] == "26 Nov 2026"
    # by name for SMTP and the outbox, the same values in the same order
    assert list(bob.tokens.items()) == [(name, value) for name, value in links.items()] + [("date_1", "27 Nov 2026")]
    assert bob.tokens == {**links, "date_1": "27 Nov 2026"} and len(bob.tokens) == 5
    assert bob.headers == recipient_headers(links["unsubscribe_url"])


def test_the_request_is_the_one_built_from_the_tokens_by_name():
    config = sample_config()
    """The send path's recipients, and the same recipients built as before (tokens by name,
    no substitutions): the same bytes."""
    dated = dated_for_zones(body(), {row[3] for row in ROWS})
    built = _recipients(ROWS, 9, LINKS, dated)
    by_name = [Recipient(r.delivery_id, r.subscriber_id, r.email, dict(r.tokens), dict(r.headers)) for r in built]
    assert all(r.substitutions is None for r in by_name)

    def request(recipients) -> bytes:
        return orjson.dumps(build_payload(OutgoingBatch(1, 2, date(2026, 11, 27), dated.body, recipients,
                                                        {"List-Id": "x <x.example.com>"}), config))

    assert request(built) == request(by_name)
    assert orjson.loads(request(built))["personalizations"][1]["substitutions"]["%%date_1%%"] == "27 Nov 2026"


def test_the_outbox_and_smtp_fill_the_same_values_by_name():
    config = sample_config()
    dated = dated_for_zones(body(), {row[3] for row in ROWS})
    bob = _recipients(ROWS, 9, LINKS, dated)[1]
    batch = OutgoingBatch(1, 2, date(2026, 11, 27), dated.body, [bob], sent_at=LATE)
    message = frame_message(batch, bob, config=config, secret="s")
    text = message.get_body(("plain",)).get_content()
    assert text.strip() == (f"27 Nov 2026 {bob.tokens['unsubscribe_url']} {bob.tokens['preferences_url']} "
                            f"{bob.tokens['archive_url']} bob@example.com")
    assert message["List-Unsubscribe"] == f"<{bob.tokens['unsubscribe_url']}>"


def test_a_substituted_recipient_is_the_one_its_init_makes():
    values = LINKS.substitutions(5, "ann@example.com", 9)
    made = substituted(101, 5, "ann@example.com", values, {"List-Unsubscribe-Post": "x"})
    assert made == Recipient(101, 5, "ann@example.com", SubstitutedTokens(values), {"List-Unsubscribe-Post": "x"}, values)
    assert (made.delivery_id, made.subscriber_id, made.email, made.substitutions) == (101, 5, "ann@example.com", values)
    assert made.tokens["email"] == "ann@example.com" and made.headers == {"List-Unsubscribe-Post": "x"}


def test_substituted_tokens_read_by_name():
    tokens = SubstitutedTokens({"%%email%%": "a@b.c", "%%date_2%%": "1 Jan 2027"})
    assert dict(tokens) == {"email": "a@b.c", "date_2": "1 Jan 2027"}
    assert tokens["date_2"] == "1 Jan 2027" and "email" in tokens and "%%email%%" not in tokens


def test_link_substitutions_are_the_token_values_keyed_for_sendgrid():
    for subscriber_id, body_id in ((5, 9), (0, None), (2**40, 123_456)):
        values = LINKS.token_values(subscriber_id, "ann@example.com", body_id)
        assert list(LINKS.substitutions(subscriber_id, "ann@example.com", body_id).items()) == \
            [(f"%%{name}%%", value) for name, value in values.items()]
