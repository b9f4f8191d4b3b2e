"""The preferences page's frequency and pause controls in headless Chromium, with
JavaScript on and off: choose weekly on a day and a pause date, save, then resume now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from digest.models import Subscriber
from web_helpers import add_subscriber

pytestmark = pytest.mark.browser


def cadence(runtime, sid):
    with runtime.session() as session:
        row = session.get(Subscriber, sid)
        return row.frequency, row.weekday, row.paused_until


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_weekly_pause_and_resume_in_chromium(live, chromium_path, playwright_api, javascript):
    runtime, links = live
    sid = add_subscriber(runtime, f"browser-{javascript}@example.com", timezone="Europe/London")
    until = datetime.now(timezone.utc).date() + timedelta(days=14)
    expect = playwright_api.expect  # retries until the page a click leads to is there
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=javascript)
            page.goto(links.preferences_url(sid))
            assert page.get_by_role("radio", name="Every day").is_checked()
            assert page.get_by_role("button", name="Resume now").count() == 0
            page.get_by_role("radio", name="Once a week").check()
            page.get_by_label("Day of the week (once a week)").select_option("wed")
            page.get_by_label("Pause until").fill(until.isoformat())
            page.get_by_role("button", name="Save preferences").click()
            expect(page.locator("body")).to_contain_text("Your preferences are saved.")
            assert cadence(runtime, sid) == ("weekly", "wed", until)
            assert page.get_by_role("radio", name="Once a week").is_checked()
            assert page.get_by_label("Pause until").input_value() == until.isoformat()
            assert f"paused until {until.isoformat()}" in page.inner_text("main").replace("\n", " ")

            page.get_by_role("button", name="Resume now").click()
            expect(page.locator("body")).to_contain_text("Your digest resumes with the next one.")
            assert cadence(runtime, sid) == ("weekly", "wed", None)
            assert page.get_by_role("button", name="Resume now").count() == 0
        finally:
            browser.close()
