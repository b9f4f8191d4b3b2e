"""The preferences page: shows and saves topics, time zone and send hour; rejects bad
input with 400 and nothing changed; resubscribes only those who unsubscribed."""

from __future__ import annotations

import pytest

from digest.web.preferences import InvalidPreferences, parse_preferences, timezone_choices
from web_helpers import add_subscriber, path_of, subscriber_state

TOPICS = ("ev-supply-chain", "lithium", "gold", "general")


def test_get_shows_current_choices(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "p@example.com", topics=("gold", "lithium"),
                         timezone="Europe/Paris", send_hour=9)
    response = client.get(path_of(links.preferences_url(sid)))
    assert response.status_code == 200
    html = response.text
    assert 'value="gold" checked' in html and 'value="lithium" checked' in html
    assert 'value="uranium" checked' not in html and 'value="uranium"' in html
    assert '<option value="Europe/Paris" selected>' in html
    assert '<option value="9" selected>09:00</option>' in html
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers


def test_post_saves_topics_zone_and_hour(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "save@example.com", topics=("gold",))
    response = client.post(
        path_of(links.preferences_url(sid)),
        data={"action": "save", "topics": ["uranium", "silver"], "timezone": "Asia/Tokyo", "send_hour": "18"},
    )
    assert response.status_code == 200
    assert "Your preferences are saved." in response.text
    state = subscriber_state(web_runtime, sid)
    assert state["topics"] == ["silver", "uranium"]
    assert (state["timezone"], state["send_hour"]) == ("Asia/Tokyo", 18)
    assert state["status"] == "active"


@pytest.mark.parametrize(
    "form, message",
    [
        ({"topics": ["gold", "bitcoin"], "timezone": "UTC", "send_hour": "7"}, "Unknown topic"),
        ({"topics": ["gold"], "timezone": "Mars/Olympus", "send_hour": "7"}, "Unknown time zone"),
        ({"topics": ["gold"], "timezone": "UTC", "send_hour": "24"}, "send hour"),
        ({"topics": ["gold"], "timezone": "UTC", "send_hour": "seven"}, "send hour"),
        ({"topics": ["gold"], "timezone": "UTC"}, "send hour"),
        ({"timezone": "UTC", "send_hour": "7"}, "at least one topic"),
    ],
)
def test_bad_input_is_400_and_changes_nothing(client, web_runtime, links, form, message):
    sid = add_subscriber(web_runtime, "bad@example.com", topics=("lithium",), timezone="Europe/Oslo", send_hour=6)
    before = subscriber_state(web_runtime, sid)
    response = client.post(path_of(links.preferences_url(sid)), data={"action": "save", **form})
    assert response.status_code == 400
    assert message in response.text
    assert subscriber_state(web_runtime, sid) == before


def test_forged_token_is_refused(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "forge@example.com")
    before = subscriber_state(web_runtime, sid)
    unsubscribe_token = links.unsubscribe_url(sid).rsplit("/", 1)[1]  # right signer, wrong purpose
    for path in (f"/preferences/{unsubscribe_token}", "/preferences/WzFd.bogus"):
        assert client.get(path).status_code == 400
        response = client.post(path, data={"topics": ["gold"], "timezone": "UTC", "send_hour": "1"})
        assert response.status_code == 400
    assert subscriber_state(web_runtime, sid) == before


# Resubscribing (a confirmation email, then its link's POST): tests/web/test_web_resubscribe.py


@pytest.mark.parametrize("status", ["bounced"])
def test_bounced_cannot_resubscribe(client, web_runtime, links, status):
    # A complained reader can: by the confirmation email's POST (tests/web/test_web_resubscribe.py).
    sid = add_subscriber(web_runtime, f"{status}@example.com", status=status)
    path = path_of(links.preferences_url(sid))
    assert 'value="resubscribe"' not in client.get(path).text
    response = client.post(path, data={"action": "resubscribe"})
    assert response.status_code == 409
    assert subscriber_state(web_runtime, sid)["status"] == status


def test_unknown_subscriber_is_404(client, links):
    assert client.get(path_of(links.preferences_url(424242))).status_code == 404


def test_parse_preferences_keeps_config_order_and_drops_repeats():
    prefs = parse_preferences(["gold", "lithium", "gold"], "UTC", "0", TOPICS)
    assert prefs.topics == ("lithium", "gold") and prefs.send_hour == 0
    with pytest.raises(InvalidPreferences):
        parse_preferences(["gold"], None, "3", TOPICS)


def test_timezone_choices_are_sorted_iana_names():
    zones = timezone_choices()
    assert list(zones) == sorted(zones)
    assert "America/Toronto" in zones and "UTC" in zones


# ---------------------------------------------------------------- frequency and pause


def cadence_state(runtime, subscriber_id):
    from digest.models import Subscriber

    with runtime.session() as session:
        s = session.get(Subscriber, subscriber_id)
        return s.frequency, s.weekday, s.paused_until


def consent_wordings(runtime, subscriber_id):
    from sqlalchemy import select

    from digest.models import ConsentRecord

    with runtime.session() as session:
        return list(session.scalars(select(ConsentRecord.wording).where(
            ConsentRecord.subscriber_id == subscriber_id, ConsentRecord.event == "preferences")
            .order_by(ConsentRecord.id)))


FORM = {"action": "save", "topics": ["gold"], "timezone": "Europe/London", "send_hour": "7", "frequency": "daily"}


def test_a_form_without_frequency_keeps_the_readers_own(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "keep@example.com", timezone="Europe/London")
    path = path_of(links.preferences_url(sid))
    assert client.post(path, data={**FORM, "frequency": "weekly", "weekday": "tue"}).status_code == 200
    form = {k: v for k, v in FORM.items() if k != "frequency"}
    assert client.post(path, data={**form, "send_hour": "9"}).status_code == 200
    assert cadence_state(web_runtime, sid) == ("weekly", "tue", None)
    assert subscriber_state(web_runtime, sid)["send_hour"] == 9


def test_weekly_and_a_pause_are_saved_shown_and_recorded(client, web_runtime, links):
    from datetime import datetime, timedelta, timezone

    sid = add_subscriber(web_runtime, "often@example.com", timezone="Europe/London")
    path = path_of(links.preferences_url(sid))
    html = client.get(path).text
    assert '<input type="radio" name="frequency" value="daily" checked>' in html
    assert 'name="paused_until"' in html and 'value="resume"' not in html  # not paused: no "resume now"

    response = client.post(path, data={**FORM, "frequency": "weekly", "weekday": "fri"})
    assert response.status_code == 200 and "Your preferences are saved." in response.text
    assert cadence_state(web_runtime, sid) == ("weekly", "fri", None)
    assert '<input type="radio" name="frequency" value="weekly" checked>' in response.text
    assert '<option value="fri" selected>Friday</option>' in response.text

    until = datetime.now(timezone.utc).date() + timedelta(days=10)
    response = client.post(path, data={**FORM, "frequency": "weekly", "weekday": "fri",
                                       "paused_until": until.isoformat()})
    assert response.status_code == 200
    assert cadence_state(web_runtime, sid) == ("weekly", "fri", until)
    assert f"Your digest is paused until <strong>{until.isoformat()}</strong>" in response.text
    assert f'value="{until.isoformat()}"' in response.text and 'value="resume"' in response.text

    response = client.post(path, data={"action": "resume"})
    assert response.status_code == 200 and "Your digest resumes with the next one." in response.text
    assert cadence_state(web_runtime, sid) == ("weekly", "fri", None)
    assert 'value="resume"' not in response.text

    assert consent_wordings(web_runtime, sid) == [
        "topics: gold; time zone: Europe/London; hour: 07:00; weekly on Friday",
        f"topics: gold; time zone: Europe/London; hour: 07:00; weekly on Friday; paused until {until.isoformat()}",
        "resumed now",
    ]


@pytest.mark.parametrize("fields, message", [
    ({"frequency": "fortnightly"}, "Frequency must be daily or weekly, got &#39;fortnightly&#39;."),
    ({"frequency": "weekly", "weekday": "someday"},
     "Weekday must be a day of the week (mon, tue, ... sun), got &#39;someday&#39;."),
    ({"frequency": "weekly", "weekday": ""}, "Weekday is required when frequency is weekly"),
    ({"paused_until": "next week"}, "The pause date must be a date as YYYY-MM-DD"),
    ({"paused_until": "2020-01-01"}, "To pause, choose a date after today"),
])
def test_a_bad_frequency_or_pause_is_400_and_changes_nothing(client, web_runtime, links, fields, message):
    sid = add_subscriber(web_runtime, "badpause@example.com", timezone="Europe/London")
    before = (subscriber_state(web_runtime, sid), cadence_state(web_runtime, sid))
    response = client.post(path_of(links.preferences_url(sid)), data={**FORM, **fields})
    assert response.status_code == 400
    assert message in response.text
    assert (subscriber_state(web_runtime, sid), cadence_state(web_runtime, sid)) == before
    assert consent_wordings(web_runtime, sid) == []
