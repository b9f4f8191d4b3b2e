"""Signup against what the form meets in the wild: each state an address can be in, robots
(honeypot, fill time), floods (per client and per address: 429 with Retry-After, nothing
sent; one email per address per 10 minutes whatever is posted), other sites (the
cross-site check and CORS), bad links (forged, expired, reused) and bad bodies."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, update
from starlette.testclient import TestClient

from digest.models import RateLimitHit, Subscriber
from digest.settings import SignupSettings
from digest.subscribers.confirmation import SALT, confirmation_token
from digest.web import create_app
from test_web_resubscribe import confirm_path, outbox_messages
from test_web_signup import FORM, consents, count, rows
from web_helpers import add_subscriber, subscriber_state

PUBLISHER = "https://publisher.example"


def app_client(runtime, *, web=None, signup=None) -> TestClient:
    """A client of an app whose settings differ from the runtime's as given."""
    settings = runtime.settings
    if web:
        settings = settings.with_overrides(web=dataclasses.replace(settings.web, **web))
    if signup:
        settings = settings.with_overrides(config=settings.config.model_copy(update={"signup": SignupSettings(**signup)}))
    return TestClient(create_app(dataclasses.replace(runtime, settings=settings)), follow_redirects=False)


def windows_end_sooner(runtime, seconds: int) -> None:
    """What ``seconds`` passing does to the signup limits' windows in the database."""
    with runtime.session() as session:
        session.execute(update(RateLimitHit).values(window_end=RateLimitHit.window_end - seconds))


def signed_ago(serializer_class, seconds: float):
    """The serializer/signer class whose tokens say they were made ``seconds`` ago."""
    then = int(datetime.now(timezone.utc).timestamp() - seconds)
    signer = getattr(serializer_class, "default_signer", serializer_class)
    dated = type("Then", (signer,), {"get_timestamp": lambda self: then})
    if signer is serializer_class:
        return dated
    return type("ThenSerializer", (serializer_class,), {"default_signer": dated})


# --- the states of point 3 ------------------------------------------------------------

def test_a_pending_address_is_sent_the_confirmation_again_at_most_once_per_10_minutes(web_runtime):
    with app_client(web_runtime) as client:
        for spelling in ("late@example.com", "LATE@example.com", "late@example.com"):
            assert client.post("/subscribe", data={**FORM, "email": spelling}).status_code == 200
    # Another web dyno (another process's memory) counts in the same window (the database's).
    with app_client(web_runtime) as client:
        assert client.post("/subscribe", data={**FORM, "email": "late@example.com"}).status_code == 200
    (first,) = outbox_messages(web_runtime)  # four posts, one email
    assert rows(web_runtime)[0]["status"] == "pending"
    # Ten minutes later, a new window: the confirmation goes again, choices updated.
    # (The outbox keeps both: it names an email outside any edition by its Message-ID.)
    windows_end_sooner(web_runtime, 600)
    with app_client(web_runtime) as client:
        assert client.post("/subscribe", data={**FORM, "email": "late@example.com",
                                               "topics": ["silver"]}).status_code == 200
        both = outbox_messages(web_runtime)
        assert len(both) == 2
        (second,) = [m for m in both if m["Message-ID"] != first["Message-ID"]]
        assert rows(web_runtime)[0]["topics"] == ["silver"]
        assert client.post(confirm_path(first)).status_code == 200  # the older link still works
        assert rows(web_runtime)[0]["status"] == "active"
        assert client.post(confirm_path(second)).status_code == 409  # then the newer one is used


@pytest.mark.parametrize("status", ["unsubscribed", "complained"])
def test_an_address_that_left_comes_back_only_through_a_fresh_confirmation(client, web_runtime, status):
    # A spam report (complained) is an opt-out like an unsubscribe: the mailbox owner's POST undoes it.
    sid = add_subscriber(web_runtime, "left@example.com", status=status)
    before = subscriber_state(web_runtime, sid)
    answer = client.post("/subscribe", data={**FORM, "email": "left@example.com"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert subscriber_state(web_runtime, sid) == before
    (message,) = outbox_messages(web_runtime)
    assert message["To"] == "left@example.com"
    assert message["Subject"] == "Confirm: receive Ridgeline Resource Briefing again"
    assert client.get(confirm_path(message)).status_code == 200  # the GET changes nothing
    assert subscriber_state(web_runtime, sid) == before
    assert client.post(confirm_path(message)).status_code == 200
    assert subscriber_state(web_runtime, sid)["status"] == "active"
    assert [(row[0], row[1]) for row in consents(web_runtime)] == [(sid, "signup"), (sid, "resubscribe")]


def test_a_bounced_address_is_refused_and_sent_nothing(client, web_runtime):
    sid = add_subscriber(web_runtime, "gone@example.com", status="bounced")
    before = subscriber_state(web_runtime, sid)
    answer = client.post("/subscribe", data={**FORM, "email": "gone@example.com"})
    assert answer.status_code == 409 and "Please sign up with another address." in answer.text
    assert outbox_messages(web_runtime) == []
    assert subscriber_state(web_runtime, sid) == before


# --- robots ---------------------------------------------------------------------------

def test_the_honeypot_answers_as_usual_and_keeps_nothing(client, web_runtime):
    answer = client.post("/subscribe", data={**FORM, "leave_empty": "https://spam.example"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert count(web_runtime) == 0 and outbox_messages(web_runtime) == []


def test_a_form_sent_faster_than_the_minimum_fill_time_keeps_nothing(client, web_runtime):
    page = client.get("/subscribe").text
    (stamp,) = re.findall(r'name="started" value="([^"]+)"', page)
    assert client.post("/subscribe", data={**FORM, "started": stamp}).status_code == 200  # at once: < 3 s
    secret = web_runtime.settings.secret_key
    other_key = TimestampSigner("another-secret", salt="digest.signup-form").sign(b"subscribe").decode()
    assert client.post("/subscribe", data={**FORM, "started": other_key}).status_code == 200
    assert count(web_runtime) == 0 and outbox_messages(web_runtime) == []

    ten_seconds_ago = signed_ago(TimestampSigner, 10)(secret, salt="digest.signup-form").sign(b"subscribe").decode()
    assert client.post("/subscribe", data={**FORM, "started": ten_seconds_ago}).status_code == 200
    assert count(web_runtime) == 1 and len(outbox_messages(web_runtime)) == 1


# --- floods ---------------------------------------------------------------------------

def test_posts_per_client_address_are_limited(web_runtime):
    with app_client(web_runtime, web={"signup_posts_per_hour": 2}) as client:
        for n in (1, 2):
            assert client.post("/subscribe", data={**FORM, "email": f"r{n}@example.com"}).status_code == 200
        refused = client.post("/subscribe", data={**FORM, "email": "r3@example.com"})
        as_json = client.post("/subscribe", json={"email": "r4@example.com", "topics": ["gold"]})
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 3600
    assert as_json.status_code == 429 and as_json.json()["error"].startswith("Please try again in ")
    assert [r["email"] for r in rows(web_runtime)] == ["r1@example.com", "r2@example.com"]
    assert len(outbox_messages(web_runtime)) == 2


def test_posts_per_email_address_are_limited(web_runtime):
    with app_client(web_runtime, web={"signup_posts_per_address_per_hour": 2}) as client:
        for _ in (1, 2):
            assert client.post("/subscribe", data={**FORM, "email": "one@example.com"}).status_code == 200
        refused = client.post("/subscribe", data={**FORM, "email": "ONE@example.com", "topics": ["silver"]})
        other = client.post("/subscribe", data={**FORM, "email": "two@example.com"})
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 3600
    assert other.status_code == 200
    assert [(r["email"], r["topics"]) for r in rows(web_runtime)] == [
        ("one@example.com", ["copper", "gold"]), ("two@example.com", ["copper", "gold"])]
    assert sorted(m["To"] for m in outbox_messages(web_runtime)) == ["one@example.com", "two@example.com"]


def test_web_dynos_without_redis_share_the_signup_limits_in_the_database(web_runtime):
    # Three apps on one database stand for three web dynos: none has a budget of its own.
    assert web_runtime.settings.redis_url is None
    answers = []
    for _ in range(3):
        with app_client(web_runtime, web={"signup_posts_per_address_per_hour": 2}) as dyno:
            answers.append(dyno.post("/subscribe", data={**FORM, "email": "shared@example.com"}))
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 3590 <= int(answers[2].headers["retry-after"]) <= 3600
    (only,) = outbox_messages(web_runtime)  # the second dyno sent no second confirmation
    assert only["To"] == "shared@example.com"
    with web_runtime.session() as session:
        kept = " ".join(f"{key} {end} {n}" for key, end, n in session.execute(
            select(RateLimitHit.key, RateLimitHit.window_end, RateLimitHit.count)))
    # The counters name neither the address nor the client.
    assert kept and "shared" not in kept and "testclient" not in kept and "127.0.0.1" not in kept


# --- other sites ----------------------------------------------------------------------

def test_only_our_own_and_the_allowed_origins_may_post(web_runtime):
    with app_client(web_runtime, signup={"allowed_origins": [PUBLISHER]}) as client:
        evil = client.post("/subscribe", data=FORM, headers={"Origin": "https://evil.example"})
        blind = client.post("/subscribe", data=FORM, headers={"Sec-Fetch-Site": "cross-site"})
        null = client.post("/subscribe", json={**FORM, "email": "n@example.com"}, headers={"Origin": "null"})
        assert (evil.status_code, blind.status_code, null.status_code) == (403, 403, 403)
        assert "access-control-allow-origin" not in evil.headers
        assert count(web_runtime) == 0 and outbox_messages(web_runtime) == []

        denied = client.options("/subscribe", headers={"Origin": "https://evil.example",
                                                        "Access-Control-Request-Method": "POST"})
        allowed = client.options("/subscribe", headers={"Origin": PUBLISHER,
                                                        "Access-Control-Request-Method": "POST"})
        assert denied.status_code == 403 and "access-control-allow-origin" not in denied.headers
        assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == PUBLISHER
        assert allowed.headers["access-control-allow-methods"] == "POST"

        theirs = client.post("/subscribe", json={**FORM, "email": "p@example.com"}, headers={"Origin": PUBLISHER})
        ours = client.post("/subscribe", data={**FORM, "email": "o@example.com"},
                           headers={"Origin": "https://digest.test", "Sec-Fetch-Site": "same-origin"})
        # Our own page sends no referrer, so Chromium says "Origin: null" and vouches by Sec-Fetch-Site.
        own_page = client.post("/subscribe", data={**FORM, "email": "q@example.com"},
                               headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
        null_elsewhere = client.post("/subscribe", data={**FORM, "email": "z@example.com"},
                                     headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"})
    assert theirs.status_code == 202 and theirs.headers["access-control-allow-origin"] == PUBLISHER
    assert ours.status_code == 200 and "access-control-allow-origin" not in ours.headers
    assert (own_page.status_code, null_elsewhere.status_code) == (200, 403)
    assert [r["email"] for r in rows(web_runtime)] == ["p@example.com", "o@example.com", "q@example.com"]


def test_allowed_origins_must_be_origins():
    with pytest.raises(ValueError, match="'https://publisher.example/' is not an origin"):
        SignupSettings(allowed_origins=["https://publisher.example/"])


# --- bad links and bodies -------------------------------------------------------------

def test_forged_expired_and_reused_confirmation_links_change_nothing(client, web_runtime):
    assert client.post("/subscribe", data=FORM).status_code == 200
    (message,) = outbox_messages(web_runtime)
    with web_runtime.session() as session:
        subscriber = session.query(Subscriber).one()
        token = confirmation_token(web_runtime.settings.secret_key, subscriber)
    payload = URLSafeTimedSerializer(web_runtime.settings.secret_key, salt=SALT).loads(token)
    secret = web_runtime.settings.secret_key
    kwargs = {"salt": SALT, "serializer_kwargs": {"separators": (",", ":")}}
    expired = signed_ago(URLSafeTimedSerializer, 49 * 3600)(secret, **kwargs).dumps(payload)
    forged = URLSafeTimedSerializer("another-secret", **kwargs).dumps(payload)
    for bad, status, words in ((expired, 400, "This link has expired"), (forged, 400, "This link is not valid")):
        for method in (client.get, client.post):
            page = method(f"/confirm/{bad}")
            assert page.status_code == status and words in page.text
    assert rows(web_runtime)[0]["status"] == "pending"
    assert client.post(confirm_path(message)).status_code == 200
    changed = subscriber_state(web_runtime, subscriber.id)
    reused = client.post(confirm_path(message))
    assert reused.status_code == 409 and "This link has been used" in reused.text
    assert subscriber_state(web_runtime, subscriber.id) == changed


def test_oversized_and_malformed_bodies_are_refused_and_nothing_is_stored(client, web_runtime):
    big = client.post("/subscribe", content=b"email=a%40example.com&x=" + b"y" * 100_000,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    broken = client.post("/subscribe", content=b'{"email": "a@example.com", "topics": ["gold"',
                         headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"].startswith("The body is not valid JSON (")
    listed = client.post("/subscribe", json=["a@example.com"])
    assert listed.status_code == 400 and "must be an object" in listed.json()["error"]
    wrong_type = client.post("/subscribe", json={"email": ["a@example.com"], "topics": ["gold"]})
    assert wrong_type.status_code == 400 and wrong_type.json() == {"error": "email: expected text, got list.",
                                                                   "field": "email"}
    plain = client.post("/subscribe", content=b"a@example.com", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert count(web_runtime) == 0 and outbox_messages(web_runtime) == []
