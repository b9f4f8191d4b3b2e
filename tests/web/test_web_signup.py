"""Readers sign themselves up: the branded form, the POST (form or JSON), double opt-in.

A new address is stored pending and sent a confirmation email at once; the GET of its link
changes nothing, the POST makes the reader active with the consent recorded."""

from __future__ import annotations

import re
from html import escape

from sqlalchemy import func, select

from digest.models import ConsentRecord, Subscriber
from test_web_resubscribe import confirm_path, outbox_messages
from web_helpers import add_subscriber, path_of

FORM = {"email": "New.Reader@Example.COM", "topics": ["gold", "copper"], "timezone": "Europe/Berlin",
        "send_hour": "6"}


def rows(runtime) -> list[dict]:
    with runtime.session() as session:
        return [{"email": s.email, "status": s.status, "topics": s.topic_slugs, "timezone": s.timezone,
                 "send_hour": s.send_hour, "consent_source": s.consent_source}
                for s in session.scalars(select(Subscriber).order_by(Subscriber.id))]


def count(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(Subscriber))


def test_the_form_is_branded_and_lists_the_configured_topics(client):
    page = client.get("/subscribe")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Subscribe to Ridgeline Resource Briefing</h1>" in html
    assert '<img src="https://ridgeline.example/static/logo-240.png" alt="Ridgeline Resource Briefing">' in html
    assert "background: #12355b" in html  # the primary colour
    boxes = re.findall(r'<input type="checkbox" name="topics" value="([a-z-]+)">\s*([^<\n]+)', html)
    assert boxes == [("ev-supply-chain", "EV Supply Chain"), ("lithium", "Lithium"), ("gold", "Gold"),
                     ("silver", "Silver"), ("copper", "Copper"), ("uranium", "Uranium"),
                     ("general", "Markets &amp; General")]
    assert '<option value="America/Toronto" selected>' in html  # [schedule] default_timezone
    assert '<option value="7" selected>07:00</option>' in html  # [schedule] default_send_hour
    assert ('<p class="consent">I agree to receive this daily email digest. I can unsubscribe at any time '
            'with the link in every email.</p>') in html  # [signup] consent_text's default
    # The one script (preselecting the browser's zone) runs by its hash; nothing else may.
    csp = page.headers["content-security-policy"]
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/]{43}='$", csp)
    assert html.count("<script>") == 1


def test_a_new_address_is_pending_until_the_post_of_its_confirmation_link(client, web_runtime):
    answer = client.post("/subscribe", data=FORM)
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    pending = {"email": "new.reader@example.com", "status": "pending", "topics": ["copper", "gold"],
               "timezone": "Europe/Berlin", "send_hour": 6, "consent_source": None}
    assert rows(web_runtime) == [pending]

    (message,) = outbox_messages(web_runtime)
    assert message["To"] == "new.reader@example.com"
    assert message["Subject"] == "Confirm: receive Ridgeline Resource Briefing"
    assert "The link works for 48 hours." in message.get_body(("plain",)).get_content()
    path = confirm_path(message)

    page = client.get(path)  # a mail scanner: nothing changes
    assert page.status_code == 200 and "<h1>Subscribe to Ridgeline Resource Briefing?</h1>" in page.text
    assert "new.reader" not in page.text
    assert rows(web_runtime) == [pending]

    done = client.post(path)
    assert done.status_code == 200 and "<h1>You are subscribed</h1>" in done.text
    assert rows(web_runtime) == [{**pending, "status": "active",
                                  "consent_source": "signup form, confirmed by email link"}]
    again = client.post(path)  # reused: a 4xx page, nothing changes
    assert again.status_code == 409 and "This link has been used" in again.text
    assert rows(web_runtime)[0]["status"] == "active"


def test_json_in_json_out(client, web_runtime):
    answer = client.post("/subscribe", json={"email": "api@example.com", "topics": ["lithium"]})
    assert answer.status_code == 202
    assert answer.json()["status"] == "check-your-inbox"
    # Zone and hour left out: the config's defaults.
    assert rows(web_runtime) == [{"email": "api@example.com", "status": "pending", "topics": ["lithium"],
                                  "timezone": "America/Toronto", "send_hour": 7, "consent_source": None}]
    assert len(outbox_messages(web_runtime)) == 1

    form_asking_json = client.post("/subscribe", data={"email": "x@example.com"},
                                   headers={"Accept": "application/json"})
    assert form_asking_json.status_code == 400
    assert form_asking_json.json() == {"error": "Choose at least one topic.", "field": "topics"}


def test_case_and_unicode_spellings_of_one_address_are_one_subscriber(client, web_runtime):
    for spelling in ("Reader@BÜCHER.example", "reader@bücher.example", "READER@bu\u0308cher.example"):
        assert client.post("/subscribe", data={**FORM, "email": spelling}).status_code == 200
    assert [r["email"] for r in rows(web_runtime)] == ["reader@bücher.example"]


def test_bad_fields_are_named_and_nothing_is_stored_or_sent(client, web_runtime):
    cases = [
        ({**FORM, "email": "not-an-address"}, "'not-an-address' is not a valid email address."),
        ({**FORM, "email": ""}, "Enter your email address."),
        ({**FORM, "topics": []}, "Choose at least one topic."),
        ({**FORM, "topics": ["gold", "tulips"]}, "Unknown topic(s): tulips."),
        ({**FORM, "timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus': choose one from the list."),
        ({**FORM, "send_hour": "24"}, "The send hour must be a whole number from 0 to 23."),
    ]
    for form, error in cases:
        page = client.post("/subscribe", data=form)
        assert page.status_code == 400, form
        assert f'<p class="error" role="alert">{escape(error).replace("&#x27;", "&#39;")}</p>' in page.text
    # What was posted is kept in the form shown again.
    page = client.post("/subscribe", data={**FORM, "send_hour": "24"})
    assert 'value="New.Reader@Example.COM"' in page.text
    assert '<input type="checkbox" name="topics" value="gold" checked>' in page.text
    assert '<option value="Europe/Berlin" selected>' in page.text
    assert count(web_runtime) == 0 and outbox_messages(web_runtime) == []


def test_an_active_address_gets_the_same_answer_and_no_email(client, web_runtime):
    add_subscriber(web_runtime, "reader@example.com", topics=("gold",))
    answer = client.post("/subscribe", data={**FORM, "email": "reader@example.com"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert outbox_messages(web_runtime) == []
    assert rows(web_runtime)[0]["topics"] == ["gold"]  # unchanged


def consents(runtime) -> list[tuple]:
    with runtime.session() as session:
        return [(r.subscriber_id, r.event, r.client_ip, r.user_agent, r.source, r.wording)
                for r in session.scalars(select(ConsentRecord).order_by(ConsentRecord.id))]


def test_each_consent_event_is_recorded_with_where_it_came_from_and_the_wording_shown(client, web_runtime):
    wording = "I agree to receive this daily email digest. I can unsubscribe at any time with the link in every email."
    client.post("/subscribe", data=FORM, headers={"User-Agent": "Reader Browser/1.0"})
    client.post("/subscribe", json={"email": "script@example.com", "topics": ["gold"]})
    with web_runtime.session() as session:
        ids = dict(session.execute(select(Subscriber.email, Subscriber.id)).all())
    first, script = ids["new.reader@example.com"], ids["script@example.com"]
    assert consents(web_runtime) == [
        (first, "signup", "testclient", "Reader Browser/1.0", "https://digest.test/subscribe", wording),
        (script, "signup", "testclient", "testclient", "api", wording),
    ]
    (message,) = [m for m in outbox_messages(web_runtime) if m["To"] == "new.reader@example.com"]
    client.post(confirm_path(message), headers={"User-Agent": "Reader Browser/1.0"})
    assert consents(web_runtime)[2:] == [
        (first, "confirm", "testclient", "Reader Browser/1.0", "confirmation email link",
         "Subscribe to Ridgeline Resource Briefing? Press the button to confirm that you want the daily "
         "digest at the address this link was sent to. Yes, send me the digest"),
    ]
    with web_runtime.session() as session:
        record = session.scalars(select(ConsentRecord).where(ConsentRecord.event == "confirm")).one()
        assert record.at == session.get(Subscriber, first).consented_at


def test_the_unsubscribe_page_offers_other_topics_instead_and_a_404_is_branded(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "reader@example.com")
    page = client.get(path_of(links.unsubscribe_url(sid)))
    assert page.status_code == 200
    assert f'<a href="{links.preferences_url(sid)}">Choose other\ntopics or another hour instead</a>' in page.text
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "<h1>Page not found</h1>" in missing.text and "background: #12355b" in missing.text
