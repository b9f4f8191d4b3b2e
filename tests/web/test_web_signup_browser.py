"""A reader signs up in headless Chromium, with JavaScript on and off: the form, the
confirmation email in the outbox, its link's button; then the next ``digest send`` sends
them a digest of just the two topics they picked, and the worker finds them due at their
own hour."""

from __future__ import annotations

import dataclasses
import email
import re
from datetime import datetime, timezone
from email.policy import default
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.models import Subscriber, Topic
from digest.links import LinkMaker
from digest.runtime import Runtime
from digest.schedule.due import find_due
from digest.settings import SignupSettings, bundled_config_path
from digest.web import create_app
from fakes.edition_seed import fresh_briefings
from fakes.live_server import live_server
from test_web_process import free_port
from web_helpers import add_subscriber, subscriber_state

pytestmark = pytest.mark.browser

ADDRESS = "browser.reader@example.com"


@pytest.fixture
def live(sqlite_url, make_settings):
    """``digest web`` on a real server; one backend is enough for the page flow. No
    minimum fill time: a browser driven by a test fills the form in well under a second."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = Runtime.open(make_settings(sqlite_url, DIGEST_BASE_URL=base))
    config = runtime.settings.config.model_copy(update={"signup": SignupSettings(min_fill_seconds=0)})
    app_runtime = dataclasses.replace(runtime, settings=runtime.settings.with_overrides(config=config))
    with live_server(create_app(app_runtime), port, "web server"):
        yield runtime, sqlite_url, base
    runtime.close()


def messages(outbox: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=default) for p in sorted(outbox.glob("*.eml"))]


def add_briefings(runtime: Runtime, slugs: tuple[str, ...]) -> None:
    with runtime.session() as session:
        topics = {t.slug: t for t in session.scalars(select(Topic))}
        session.add_all(fresh_briefings(topics, slugs, datetime.now(timezone.utc)))


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_a_reader_signs_up_confirms_and_gets_just_their_topics(live, chromium_path, javascript):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    expect = pytest.importorskip("playwright.sync_api").expect  # retries until the next page is there
    runtime, database_url, base = live
    outbox = Path(runtime.settings.outbox_dir)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=javascript, timezone_id="Europe/Berlin")
            page.goto(f"{base}/subscribe")
            zone = page.locator("#timezone")
            # With JavaScript the browser's zone is preselected; without, the config's default.
            assert zone.input_value() == ("Europe/Berlin" if javascript else "America/Toronto")
            # Grouped by region; no alias, no sign-reversed Etc/GMT+N name.
            assert page.locator("#timezone optgroup[label='Europe'] option[value='Europe/Berlin']").count() == 1
            assert page.locator("#timezone option[value^='Etc/'], #timezone option[value^='US/']").count() == 0
            zone.select_option("Europe/Berlin")
            page.get_by_label("Your email address").fill(ADDRESS)
            page.get_by_label("Gold").check()
            page.get_by_label("Copper").check()
            page.locator("#send_hour").select_option("6")
            page.get_by_role("button", name="Subscribe").click()
            expect(page.get_by_role("heading")).to_have_text("Check your inbox")

            (confirmation,) = messages(outbox)
            assert confirmation["To"] == ADDRESS
            text = confirmation.get_body(("plain",)).get_content()
            (confirm_url,) = re.findall(r"http://127\.0\.0\.1:\d+/confirm/\S+", text)
            with runtime.session() as session:
                sid = session.scalars(select(Subscriber.id).where(Subscriber.email == ADDRESS)).one()
            assert subscriber_state(runtime, sid)["status"] == "pending"
            page.goto(confirm_url)
            assert subscriber_state(runtime, sid)["status"] == "pending"  # the GET changes nothing
            page.get_by_role("button", name="Yes, send me the digest").click()
            expect(page.get_by_role("heading")).to_have_text("You are subscribed")
        finally:
            browser.close()
    state = subscriber_state(runtime, sid)
    assert {k: state[k] for k in ("status", "topics", "timezone", "send_hour")} == {
        "status": "active", "topics": ["copper", "gold"], "timezone": "Europe/Berlin", "send_hour": 6}

    # Due at their hour: 06:00 in Berlin on Monday 7 December 2026 is 05:00 UTC (CET, UTC+1).
    with runtime.session() as session:
        schedule = runtime.settings.config.schedule
        assert find_due(session, schedule, datetime(2026, 12, 7, 4, 59, tzinfo=timezone.utc)).due == {}
        due = find_due(session, schedule, datetime(2026, 12, 7, 5, 0, tzinfo=timezone.utc)).due
        assert due == {datetime(2026, 12, 7).date(): [sid]}

    add_briefings(runtime, ("gold", "copper", "lithium"))
    env = {"DATABASE_URL": database_url, "DIGEST_OUTBOX": str(outbox), "DIGEST_CONFIG": str(bundled_config_path()),
           "DIGEST_SECRET_KEY": runtime.settings.secret_key, "DIGEST_BASE_URL": base, "DIGEST_PROVIDER": "outbox"}
    sent = CliRunner().invoke(main, ["send"], env=env)
    assert sent.exit_code == 0, sent.output
    (digest,) = [m for m in messages(outbox) if m["X-Digest-Batch"] != "0"]
    assert digest["To"] == ADDRESS
    body = digest.get_body(("plain",)).get_content()
    assert "Gold today" in body and "Copper today" in body
    assert "Lithium today" not in body


def test_the_unsubscribe_page_leads_to_other_topics_instead(live, chromium_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    expect = pytest.importorskip("playwright.sync_api").expect  # retries until the next page is there
    runtime, _, base = live
    sid = add_subscriber(runtime, "staying@example.com")
    links = LinkMaker(base, runtime.settings.secret_key)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=False)
            page.goto(links.unsubscribe_url(sid))
            page.get_by_role("link", name="Choose other topics or another hour instead").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
        finally:
            browser.close()
    assert subscriber_state(runtime, sid)["status"] == "active"
