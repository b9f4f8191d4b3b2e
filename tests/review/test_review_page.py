"""The review page in Chromium: behind the editor sign-in, a drafted edition's bodies, a
body's view, Approve, and Approve refused when the snapshot changed after the page was
opened. Nothing but the body's images is asked of another site, and no console
error but the refusal's 409. Each body's checklist result, and Approve of a body that fails
a check only once "approve despite" is ticked."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from digest.models import EditionApproval
from digest.review.controls import redraft
from digest.runtime import Runtime
from digest.web import create_app
from fakes.live_server import live_server

from .helpers import add_briefing, seed_two_drafts, seed_unflagged_sponsored_draft, with_review

TOKEN = "editor-token-for-review-tests-7d2e"
DAY, LATER = datetime(2026, 12, 7).date(), datetime(2026, 12, 8).date()


def _editor_site(sqlite_url, make_settings) -> tuple[int, str, Runtime]:
    """A free port, the web process's address on it, and a runtime whose links point there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    runtime = with_review(Runtime.open(make_settings(sqlite_url, DIGEST_BASE_URL=base, DIGEST_EDITOR_TOKEN=TOKEN)),
                          approval="required")
    return port, base, runtime


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/editor/review?date={DAY}")
    page.get_by_label("Editor token").fill(TOKEN)
    with page.expect_navigation():  # signed in (the cookie set) before the caller goes on
        page.get_by_role("button", name="Sign in").click()


def test_the_page_and_its_buttons_need_the_editor_and_a_form_of_its_own(sqlite_url, make_settings):
    runtime = with_review(Runtime.open(make_settings(sqlite_url, DIGEST_EDITOR_TOKEN=TOKEN)), approval="required")
    seed_two_drafts(runtime, DAY, LATER)
    try:
        with TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False) as client:
            away = client.get(f"/editor/review?date={DAY}")
            assert (away.status_code, away.headers["location"]) == (303, "/editor/sign-in")
            forged = client.post("/editor/review/approve", data={"date": str(DAY), "form_token": "x"},
                                 headers={"Authorization": f"Bearer {TOKEN}"})  # an editor, not the page's form
            assert forged.status_code == 400
            page = client.get(f"/editor/review?date={DAY}", headers={"Authorization": f"Bearer {TOKEN}"})
            assert page.status_code == 200 and page.text.count('href="/editor/review/body/') == 2
            assert client.get("/editor/review?date=tomorrow", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 400
            huge = client.post("/editor/review/hold", content=b"date=" + b"9" * 9000,  # over the forms' 8 KiB
                               headers={"Authorization": f"Bearer {TOKEN}",
                                        "Content-Type": "application/x-www-form-urlencoded"})
            assert huge.status_code == 413
        with runtime.session() as session:
            assert session.scalars(select(EditionApproval)).all() == []
    finally:
        runtime.close()


@pytest.mark.browser
def test_chromium_lists_views_and_approves_and_refuses_a_changed_snapshot(sqlite_url, make_settings, chromium_path,
                                                                          playwright_api):
    port, base, runtime = _editor_site(sqlite_url, make_settings)
    seed_two_drafts(runtime, DAY, LATER)
    requests: list[str] = []
    errors: list[str] = []
    failed: list[tuple[str, int]] = []
    expect = playwright_api.expect  # retries until the page a click leads to is there
    try:
        with live_server(create_app(runtime), port, "web server"), playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.on("request", lambda request: requests.append((request.url, request.resource_type)))
                page.on("response", lambda r: failed.append((r.url, r.status)) if r.status >= 400 and
                        r.url.startswith(base) and not r.url.endswith("/favicon.ico") else None)
                page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                _sign_in(page, base)
                page.goto(f"{base}/editor/review?date={DAY}")
                assert page.get_by_role("heading", level=1).inner_text() == f"Edition of {DAY}"
                rows = page.locator("#bodies tbody tr")
                assert rows.count() == 2
                assert rows.nth(0).locator("td").nth(0).inner_text() == "gold"  # most readers first
                assert rows.nth(0).locator("td").nth(1).inner_text() == "2"
                assert rows.nth(1).locator("td").nth(0).inner_text() == "lithium"
                assert "Not approved" in page.locator("#waiting").inner_text()

                rows.nth(0).get_by_role("link", name="view").click()  # a body's view
                expect(page.locator("body")).to_contain_text("Gold holds")
                assert "Lithium moves" not in page.content()
                page.go_back()

                page.get_by_role("button", name="Approve snapshot v1").click()
                assert page.locator("#approved").inner_text() == "Approved."
                assert page.locator("#approvals li").inner_text().startswith("an editor (review page) approved snapshot v1")

                page.goto(f"{base}/editor/review?date={LATER}")
                add_briefing(runtime, "Gold slips", datetime.now(timezone.utc) - timedelta(minutes=1), topic="gold")
                redraft(runtime, LATER, by="desk", now=datetime.now(timezone.utc))  # changes after it was opened
                page.get_by_role("button", name="Approve snapshot v1").click()
                assert "changed since it was viewed: its snapshot is now v2" in page.locator("#error").inner_text()
                assert page.locator("#approvals li").inner_text() == "None yet."
            finally:
                browser.close()
    finally:
        with runtime.session() as session:
            approved = session.execute(select(EditionApproval.approved_by)).scalars().all()
        runtime.close()
    assert approved == ["an editor (review page)"]
    # Only the email body's own images (the publication's logo) come from elsewhere, as in the email.
    assert requests and all(url.startswith(base + "/") or kind == "image" for url, kind in requests), requests
    # Every answer under 400 but the refused approval's 409 (the browser logs it); the logo's host
    # does not resolve offline, and the body's page (an email: no icon link) asks for /favicon.ico.
    assert failed == [(f"{base}/editor/review/approve", 409)]
    assert [e for e in errors if "ERR_NAME_NOT_RESOLVED" not in e and "status of 404" not in e] == [
        "Failed to load resource: the server responded with a status of 409 (Conflict)"]


@pytest.mark.browser
def test_chromium_shows_each_bodys_checklist_and_approves_a_failing_one_only_when_confirmed(
        sqlite_url, make_settings, chromium_path, playwright_api):
    port, base, runtime = _editor_site(sqlite_url, make_settings)
    seed_unflagged_sponsored_draft(runtime, DAY, datetime(2026, 12, 7, 5, 0, tzinfo=timezone.utc))
    try:
        with live_server(create_app(runtime), port, "web server"), playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                _sign_in(page, base)
                page.goto(f"{base}/editor/review?date={DAY}")
                rows = page.locator("#bodies tbody tr")
                topics = [rows.nth(i).locator("td").nth(0).inner_text() for i in range(rows.count())]
                assert topics == ["gold", "lithium"]
                gold, lithium = (rows.nth(i).locator("td.checklist") for i in (0, 1))
                assert gold.locator("strong").inner_text() == "fails 1 of 10 checks:"
                assert gold.locator("li").all_inner_texts() == [
                    "disclosures next to each item: sponsored card 'Gold promo' has no paid-promotion disclosure; "
                    "sponsored card 'Gold promo' is not labelled"]
                assert lithium.inner_text() == "passes all 10 checks"

                page.get_by_role("button", name="Approve snapshot v1").click()  # not confirmed: the form stays
                assert page.locator("#despite").evaluate("box => box.validity.valueMissing") is True
                assert "Not approved" in page.locator("#waiting").inner_text()
                page.get_by_label("approve despite: [gold] disclosures next to each item").check()
                page.get_by_role("button", name="Approve snapshot v1").click()
                assert page.locator("#approved").inner_text() == "Approved."
                assert page.locator("#approvals li").inner_text().endswith(
                    ", despite: [gold] disclosures next to each item")
            finally:
                browser.close()
        with runtime.session() as session:
            approved = session.execute(select(EditionApproval.approved_by, EditionApproval.failed_checks)).all()
    finally:
        runtime.close()
    assert [tuple(a) for a in approved] == [("an editor (review page)", "[gold] disclosures next to each item")]
