"""The live preview page in headless Chromium: the width control and the email frame."""

from __future__ import annotations

import socket

import pytest

from select_seeding import Seeder

from digest.preview.server import create_app
from digest.runtime import Runtime
from fakes.live_server import live_server

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sqlite_runtime(sqlite_url, make_settings):
    """One backend is enough here: the page's behaviour does not depend on the store."""
    rt = Runtime.open(make_settings(sqlite_url))
    with rt.session() as session:
        seed = Seeder(session)
        seed.briefing(title="Lithium news of the day", topics=("lithium",), hours_ago=2)
        seed.briefing(title="Gold holds its ground", topics=("gold",), hours_ago=3)
    yield rt
    rt.close()


@pytest.fixture
def live_url(sqlite_runtime):
    port = _free_port()
    with live_server(create_app(sqlite_runtime, poll_seconds=0.2), port, "preview server"):
        yield f"http://127.0.0.1:{port}/"


def test_phone_width_and_topic_switch(live_url, chromium_path, playwright_api, tmp_path):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(live_url)
            page.fill("input[name=date]", "2026-11-27")
            page.check("input[name=topic][value=gold]")
            page.check("input[name=width][value='375']")
            frame_element = page.locator("#frame")
            assert frame_element.get_attribute("width") == "375"
            assert frame_element.bounding_box()["width"] == pytest.approx(375, abs=4)
            # The frame first shows every topic; wait for the gold-only render to load.
            page.wait_for_function(
                "() => [...document.querySelectorAll('iframe')].some("
                "f => f.contentWindow.location.href.includes('topics=gold')"
                " && f.contentDocument.readyState === 'complete')"
            )
            frame = next(f for f in page.frames if "topics=gold" in f.url)
            assert frame.locator("a:visible", has_text="Gold holds its ground").count() >= 1
            assert frame.locator("a", has_text="Lithium news of the day").count() == 0
            page.screenshot(path=str(tmp_path / "preview-page-phone.png"))
        finally:
            browser.close()
