"""Only the mailbox owner undoes an opt-out: resubscribing from the preferences page sends
a confirmation email to the address, and only the POST of its link's page makes the
reader active again, recorded as consent. A web version shows neither the address nor a
link that changes the subscription."""

from __future__ import annotations

import email
import json
import re
from datetime import datetime, timedelta, timezone
from email.policy import default
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from digest.models import RenderedBody, Subscriber
from digest.runtime import Runtime
from digest.subscribers import remove_subscriber
from digest.links import InvalidToken
from digest.subscribers.confirmation import SALT, confirmation_email, confirmation_token, read_confirmation
from digest.web import create_app
from fakes.fixtures import TEST_API_KEY, fake_sendgrid  # noqa: F401  (fixture)
from web_helpers import add_subscriber, path_of, sign, subscriber_state

BODY = ('<html><body><p>Gold climbs</p><a href="%%preferences_url%%">Change your topics</a> '
        '<a href="%%unsubscribe_url%%">Unsubscribe</a> sent to %%email%%</body></html>')


def outbox_messages(runtime) -> list[email.message.EmailMessage]:
    folder = Path(runtime.settings.outbox_dir)
    if not folder.exists():
        return []
    return [email.message_from_bytes(p.read_bytes(), policy=default) for p in sorted(folder.glob("*.eml"))]


def confirm_path(message) -> str:
    text = message.get_body(("plain",)).get_content()
    (url,) = re.findall(r"https://digest\.test/confirm/\S+", text)
    return path_of(url)


def leave_by_operator(runtime, client, key, address: str) -> None:
    with runtime.session() as session:
        remove_subscriber(session, address)


def leave_by_provider_event(runtime, client, key, address: str) -> None:
    body = json.dumps([{"email": address, "event": "unsubscribe", "sg_event_id": "ev-" + address,
                        "timestamp": 1700000000}]).encode()
    assert client.post("/webhooks/sendgrid", content=body, headers=sign(key, body)).status_code == 200


@pytest.mark.parametrize("leave", [leave_by_operator, leave_by_provider_event], ids=["operator", "provider-event"])
def test_resubscribing_takes_effect_only_from_the_confirmation_links_post(
    client, web_runtime, links, webhook_private_key, leave,
):
    address = "left@example.com"
    sid = add_subscriber(web_runtime, address)
    leave(web_runtime, client, webhook_private_key, address)
    left = subscriber_state(web_runtime, sid)
    assert left["status"] == "unsubscribed"

    response = client.post(path_of(links.preferences_url(sid)), data={"action": "resubscribe"})
    assert response.status_code == 200
    assert "We sent an email to the address this digest goes to" in response.text
    assert subscriber_state(web_runtime, sid) == left  # nothing changed yet

    (message,) = outbox_messages(web_runtime)
    assert message["To"] == address
    assert message["Subject"] == "Confirm: receive Ridgeline Resource Briefing again"
    path = confirm_path(message)
    assert confirm_path(message) in message.get_body(("html",)).get_content()

    page = client.get(path)  # what a mail scanner does: nothing changes
    assert page.status_code == 200 and 'method="post"' in page.text
    assert address not in page.text
    assert subscriber_state(web_runtime, sid) == left

    done = client.post(path)
    assert done.status_code == 200 and "You are subscribed again" in done.text
    assert subscriber_state(web_runtime, sid)["status"] == "active"
    with web_runtime.session() as session:
        subscriber = session.get(Subscriber, sid)
        assert subscriber.consent_source == "confirmed by email link"
        assert subscriber.consented_at == subscriber.status_changed_at
        assert subscriber.consented_at > datetime.now(timezone.utc) - timedelta(minutes=5)

    again = client.post(path)  # a replay changes nothing more
    assert again.status_code == 409 and "This link has been used" in again.text
    assert subscriber_state(web_runtime, sid)["status"] == "active"


def test_a_link_sent_before_a_later_unsubscribe_no_longer_works(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "twice@example.com", status="unsubscribed")
    client.post(path_of(links.preferences_url(sid)), data={"action": "resubscribe"})
    path = confirm_path(outbox_messages(web_runtime)[0])
    with web_runtime.session() as session:  # confirmed elsewhere, then unsubscribed again
        subscriber = session.get(Subscriber, sid)
        subscriber.status, subscriber.status_changed_at = "unsubscribed", datetime(2030, 1, 1, tzinfo=timezone.utc)
    response = client.post(path)
    assert response.status_code == 409
    assert subscriber_state(web_runtime, sid)["status"] == "unsubscribed"


def test_confirmation_links_expire_and_refuse_forgeries(client, web_runtime):
    sid = add_subscriber(web_runtime, "late@example.com", status="unsubscribed")
    secret = web_runtime.settings.secret_key
    with web_runtime.session() as session:
        subscriber = session.get(Subscriber, sid)
        token = confirmation_token(secret, subscriber)
        payload = URLSafeTimedSerializer(secret, salt=SALT).loads(token)
    # Signed 8 days ago (links work 7): itsdangerous takes the signing time from the clock.
    eight_days_ago = datetime.now(timezone.utc).timestamp() - 8 * 86400

    class Then(URLSafeTimedSerializer):
        default_signer = type("Signer", (URLSafeTimedSerializer.default_signer,),
                              {"get_timestamp": lambda self: int(eight_days_ago)})

    old = Then(secret, salt=SALT, serializer_kwargs={"separators": (",", ":")}).dumps(payload)
    expired = client.post(f"/confirm/{old}")
    assert expired.status_code == 400 and "expired" in expired.text
    other_key = URLSafeTimedSerializer("another-secret", salt=SALT).dumps(payload)
    unsubscribe_token = f"{token.split('.')[0]}.{token.split('.')[2]}"
    for bad in (other_key, unsubscribe_token, token[:-1] + ("A" if token[-1] != "A" else "B")):
        assert client.post(f"/confirm/{bad}").status_code == 400
    assert subscriber_state(web_runtime, sid)["status"] == "unsubscribed"
    assert client.post(f"/confirm/{token}").status_code == 200
    assert subscriber_state(web_runtime, sid)["status"] == "active"


def test_confirmations_go_through_the_configured_provider_at_most_three_a_day(
    web_runtime, links, fake_sendgrid,
):
    settings = web_runtime.settings.with_overrides(
        provider="sendgrid", sendgrid_api_key=TEST_API_KEY, sendgrid_api_host=fake_sendgrid.url)
    runtime = Runtime(settings, web_runtime.engine, web_runtime.sessions)
    sid = add_subscriber(runtime, "flood@example.com", status="unsubscribed")
    with TestClient(create_app(runtime)) as client:
        for _ in range(5):
            response = client.post(path_of(links.preferences_url(sid)), data={"action": "resubscribe"})
            assert response.status_code == 200
    assert [m.to for m in fake_sendgrid.delivered] == ["flood@example.com"] * 3
    confirm_url = re.findall(r"https://digest\.test/confirm/\S+", fake_sendgrid.delivered[0].text)
    assert len(confirm_url) == 1
    assert subscriber_state(runtime, sid)["status"] == "unsubscribed"
    assert outbox_messages(runtime) == []


def test_a_forwarded_web_version_shows_no_address_and_no_way_to_change_the_subscription(
    client, web_runtime, links,
):
    sid = add_subscriber(web_runtime, "private@example.com", status="unsubscribed")
    with web_runtime.session() as session:
        body = RenderedBody(fingerprint="e" * 64, subject="Gold", html=BODY, text="Gold")
        session.add(body)
        session.flush()
        body_id = body.id
    before = subscriber_state(web_runtime, sid)
    html = client.get(path_of(links.archive_url(sid, body_id))).text
    assert "private@example.com" not in html and "%%" not in html
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs == ["https://digest.test/subscription", "https://digest.test/subscription"]
    for href in hrefs:
        page = client.get(path_of(href))
        assert page.status_code == 200 and "<form" not in page.text
        assert client.post(path_of(href), data={"action": "resubscribe"}).status_code in (405, 413)
    assert subscriber_state(web_runtime, sid) == before
    assert outbox_messages(web_runtime) == []


def test_a_confirmation_token_in_another_spelling_is_refused(web_runtime):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sid = add_subscriber(web_runtime, "spell@example.com", status="unsubscribed")
    secret = web_runtime.settings.secret_key
    with web_runtime.session() as session:
        token = confirmation_token(secret, session.get(Subscriber, sid))
    assert read_confirmation(secret, token, 3600).subscriber_id == sid
    index = alphabet.index(token[-1])
    for other in (token[:-1] + alphabet[index ^ low] for low in (1, 2, 3)):
        assert URLSafeTimedSerializer(secret, salt=SALT).loads(other)[0] == sid  # itsdangerous takes it
        with pytest.raises(InvalidToken):
            read_confirmation(secret, other, 3600)


def test_a_first_signups_confirmation_email_does_not_say_again(web_runtime):
    config = web_runtime.settings.config
    first = confirmation_email(config, "https://digest.test/confirm/abc", 7, returning=False)
    back = confirmation_email(config, "https://digest.test/confirm/abc", 7)
    assert first.subject == "Confirm: receive Ridgeline Resource Briefing"
    assert back.subject == "Confirm: receive Ridgeline Resource Briefing again"
    assert "https://digest.test/confirm/abc" in first.text and "again" not in first.text.split("\n")[0]
    assert 'href="https://digest.test/confirm/abc"' in first.html
