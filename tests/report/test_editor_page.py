"""The editor's report page: behind DIGEST_EDITOR_TOKEN, plots drawn on the server, and
in Chromium nothing requested from another origin and no console error."""

from __future__ import annotations

import socket
from datetime import date, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from digest.models import Delivery, Edition, Subscriber
from digest.report.counting import count_sent
from digest.runtime import Runtime
from digest.web import create_app
from digest.web.sendgrid_events import record_events
from fakes.live_server import live_server

from .test_counting import ev

TOKEN = "editor-token-for-tests-5b1c"
FIRST = date(2026, 11, 20)
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "editor-report.png"


def seed_editions(runtime: Runtime, editions: int = 5, readers: int = 40) -> None:
    """``editions`` editions sent to ``readers`` each; in edition n, readers 1..n complain
    and readers 1..10+n open, reader 1 clicks the gold briefing."""
    with runtime.session() as session:
        session.add_all([Subscriber(id=r, email=f"r{r}@example.com") for r in range(1, readers + 1)])
        session.flush()
        for n in range(1, editions + 1):
            session.add(Edition(id=n, date=FIRST + timedelta(days=n), slot="daily"))
            session.add_all([Delivery(edition_id=n, subscriber_id=r, batch_id=n, status="sent")
                             for r in range(1, readers + 1)])
            count_sent(session, n, readers, FIRST + timedelta(days=n))  # as settling their batch does
    for n in range(1, editions + 1):
        day = FIRST + timedelta(days=n)
        events = [ev(f"d{n}-{r}", "delivered", r, day, edition=n) for r in range(1, readers + 1)]
        events += [ev(f"o{n}-{r}", "open", r, day, edition=n) for r in range(1, 11 + n)]
        events += [ev(f"s{n}-{r}", "spamreport", r, day, edition=n) for r in range(1, n + 1)]
        events += [ev(f"c{n}", "click", 1, day, edition=n, url="https://ridgeline.example/b/gold")]
        record_events(runtime, events)


@pytest.fixture
def editor_runtime(runtime) -> Runtime:
    import dataclasses
    return dataclasses.replace(runtime, settings=runtime.settings.with_overrides(editor_token=TOKEN))


def test_the_page_needs_the_token_and_then_shows_five_plots(editor_runtime):
    seed_editions(editor_runtime)
    # https: the cookie is Secure, as DIGEST_BASE_URL is https.
    with TestClient(create_app(editor_runtime), base_url="https://testserver", follow_redirects=False) as client:
        away = client.get("/editor/report")
        assert (away.status_code, away.headers["location"]) == (303, "/editor/sign-in")
        wrong = client.post("/editor/sign-in", data={"token": "not-the-token-at-all"})
        assert wrong.status_code == 403 and "That is not the editor token." in wrong.text
        assert client.get("/editor/report", headers={"Authorization": "Bearer nope"}).status_code == 303
        right = client.post("/editor/sign-in", data={"token": TOKEN})
        assert right.status_code == 303 and right.headers["location"] == "/editor/report"
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie and "Path=/editor" in cookie
        page = client.get("/editor/report")
    assert page.status_code == 200
    html = page.text
    assert html.count('<svg class="plot"') == 5
    assert html.count('class="guide"') == 2  # the 0.1% and 0.3% lines
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # Complaint rates 1/40 .. 5/40: each edition's point, titled with its rate.
    for n in range(1, 6):
        assert f"complaint rate: {100 * n / 40:.2f}%</title>" in html
    assert "Gold today" not in html and "https://ridgeline.example/b/gold" in html  # no such briefing stored


def test_without_the_variable_there_are_no_editor_pages(runtime):
    with TestClient(create_app(runtime), follow_redirects=False) as client:
        assert client.get("/editor/report").status_code == 404
        assert client.post("/editor/sign-in", data={"token": TOKEN}).status_code == 404


def test_a_short_token_is_refused_at_start_up(make_settings):
    from digest.errors import ConfigError
    with pytest.raises(ConfigError, match="DIGEST_EDITOR_TOKEN"):
        make_settings(DIGEST_EDITOR_TOKEN="short")


@pytest.mark.browser
def test_chromium_shows_the_plots_and_asks_nothing_of_another_site(sqlite_url, make_settings, chromium_path,
                                                                     playwright_api):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    runtime = Runtime.open(make_settings(sqlite_url, DIGEST_BASE_URL=base, DIGEST_EDITOR_TOKEN=TOKEN))
    seed_editions(runtime)
    requests: list[str] = []
    errors: list[str] = []
    expect = playwright_api.expect  # retries until the page a click leads to is there
    try:
        with live_server(create_app(runtime), port, "web server"), playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.on("request", lambda request: requests.append(request.url))
                page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{base}/editor/report")
                page.get_by_label("Editor token").fill(TOKEN)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", level=1)).to_have_text("What happened after send")
                assert page.locator("svg.plot").count() == 5
                assert page.locator("svg.plot rect.bar").count() > 0
                assert page.locator("svg.plot polyline.line").count() == 3
                assert page.locator("svg.plot line.guide").count() == 2
                assert page.locator("#figures tbody tr").count() == 5
                SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)
            finally:
                browser.close()
    finally:
        runtime.close()
    assert requests and all(url.startswith(base + "/") for url in requests), requests
    assert errors == []
    assert SCREENSHOT.stat().st_size > 10_000


def test_the_page_says_when_a_guard_holds_sending(editor_runtime):
    from digest.models import GuardTrip
    seed_editions(editor_runtime, editions=1)
    with editor_runtime.session() as session:
        session.add(GuardTrip(guard="complaint-rate", reason="spam complaints are 0.50% (5 of 1000 delivered)"))
    with TestClient(create_app(editor_runtime)) as client:
        page = client.get("/editor/report", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200
    assert ("Sending is held: spam complaints are 0.50% (5 of 1000 delivered). No batch starts until an operator "
            "runs\n<code>digest resume --force</code>.") in page.text
    assert '<form method="post" action="/editor/resume">' in page.text

    with TestClient(create_app(editor_runtime), follow_redirects=False) as client:
        refused = client.post("/editor/resume", headers={"Authorization": "Bearer not-the-editor-token"})
        assert (refused.status_code, refused.headers["location"]) == (303, "/editor/sign-in")
        assert held(editor_runtime) == [None]
        done = client.post("/editor/resume", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (done.status_code, done.headers["location"]) == (303, "/editor/report")
    assert [released is not None for released in held(editor_runtime)] == [True]


def held(runtime) -> list:
    from sqlalchemy import select
    from digest.models import GuardTrip
    with runtime.session() as session:
        return list(session.scalars(select(GuardTrip.released_at)))
