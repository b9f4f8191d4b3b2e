"""A reader comes back, in headless Chromium with JavaScript off: the preferences page's
button sends the confirmation email, and the button on its link's page resubscribes."""

from __future__ import annotations

import email
import re
from email.policy import default
from pathlib import Path

import pytest

from web_helpers import add_subscriber, subscriber_state

pytestmark = pytest.mark.browser


def test_a_reader_resubscribes_through_the_confirmation_email(live, chromium_path, playwright_api):
    runtime, links = live
    sid = add_subscriber(runtime, "returning@example.com", status="unsubscribed")
    expect = playwright_api.expect  # retries until the page a click leads to is there
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=False)
            page.goto(links.preferences_url(sid))
            page.get_by_role("button", name="Resubscribe").click()
            expect(page.locator("body")).to_contain_text("We sent an email to the address this digest goes to")
            assert subscriber_state(runtime, sid)["status"] == "unsubscribed"

            (eml,) = Path(runtime.settings.outbox_dir).glob("*.eml")
            text = email.message_from_bytes(eml.read_bytes(), policy=default).get_body(("plain",)).get_content()
            (confirm_url,) = re.findall(r"http://127\.0\.0\.1:\d+/confirm/\S+", text)
            page.goto(confirm_url)
            assert subscriber_state(runtime, sid)["status"] == "unsubscribed"
            page.get_by_role("button", name="Yes, send me the digest").click()
            expect(page.get_by_role("heading")).to_have_text("You are subscribed again")
        finally:
            browser.close()
    assert subscriber_state(runtime, sid)["status"] == "active"
