"""View in browser (the stored body, with nothing of its reader in it) and /healthz."""

from __future__ import annotations

import re

import pytest

from starlette.testclient import TestClient

from digest import db
from digest.models import RenderedBody
from digest.runtime import Runtime
from digest.web import create_app
from web_helpers import add_subscriber, path_of

BODY = (
    "<!doctype html><html><body><p>Gold climbs</p>"
    '<a href="%%archive_url%%">View in browser</a> '
    '<a href="%%preferences_url%%">Preferences</a> '
    '<a href="%%unsubscribe_url%%">Unsubscribe</a> sent to %%email%%</body></html>'
)


def store_body(runtime: Runtime, html: str = BODY) -> int:
    with runtime.session() as session:
        body = RenderedBody(fingerprint="f" * 64, subject="Gold climbs", html=html, text="Gold climbs")
        session.add(body)
        session.flush()
        return body.id


def test_archive_shows_the_body_without_the_readers_address_or_links(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "viewer@example.com")
    body_id = store_body(web_runtime)
    response = client.get(path_of(links.archive_url(sid, body_id)))

    assert response.status_code == 200
    html = response.text
    assert "Gold climbs" in html and "%%" not in html
    assert "viewer@example.com" not in html and "sent to the subscriber" in html
    assert "/unsubscribe/" not in html and "/preferences/" not in html
    assert '<a href="https://digest.test/subscription">Unsubscribe</a>' in html
    assert '<a href="https://digest.test/subscription">Preferences</a>' in html
    assert links.archive_url(sid, body_id) in html
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_a_web_versions_subscription_page_asks_for_nothing(client):
    response = client.get("/subscription")
    assert response.status_code == 200
    assert "<form" not in response.text and "<input" not in response.text
    assert "links at the bottom of the email itself" in response.text


def test_archive_without_a_delivery_shows_dates_in_the_subscribers_zone(client, web_runtime, links):
    # A body no batch delivered to them (e.g. a proof's link): their current zone.
    sid = add_subscriber(web_runtime, "kolkata@example.com", timezone="Asia/Kolkata")
    body_id = store_body(web_runtime, BODY.replace("Gold climbs", "Gold climbs on %%date:202611262330%%"))
    html = client.get(path_of(links.archive_url(sid, body_id))).text
    assert "Gold climbs on 27 Nov 2026" in html and "%%" not in html


def test_archive_of_a_missing_body_is_404(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "missing@example.com")
    assert client.get(path_of(links.archive_url(sid, 12345))).status_code == 404
    assert client.get(path_of(links.archive_url(sid, 0))).status_code == 404


def test_archive_refuses_forged_tokens(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "forged@example.com")
    body_id = store_body(web_runtime)
    token = links.archive_url(sid, body_id).rsplit("/", 1)[1]
    payload, _, signature = token.partition(".")
    other_payload = links.archive_url(sid, body_id + 1).rsplit("/", 1)[1].partition(".")[0]
    for bad in (f"{other_payload}.{signature}", links.unsubscribe_url(sid).rsplit("/", 1)[1], payload):
        response = client.get(f"/archive/{bad}")
        assert response.status_code == 400
        assert "Gold climbs" not in response.text


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("ready, status", [(True, "error"), (False, "starting")])
def test_healthz_503_when_the_database_is_unreachable(make_settings, tmp_path, ready, status):
    """Ready: the database went away after start-up; not ready: it was away from the start."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'digest.db'}")  # cannot be opened
    runtime = Runtime(make_settings(), engine, db.make_session_factory(engine), ready=ready)
    with TestClient(create_app(runtime)) as client:
        response = client.get("/healthz")
    engine.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": status, "database": "unavailable"}


def test_unknown_path_is_a_branded_404(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert re.search(r"<html lang=\"en\">", response.text)
    assert "Ridgeline" in response.text
