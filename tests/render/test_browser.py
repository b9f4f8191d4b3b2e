"""The rendered email in a real browser (Debian's Chromium driven by Playwright):
no horizontal scrolling at 320, 375 and 600 px, and the video columns stack on a phone.
Screenshots go to test-artifacts/screenshots/ for a human to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.content import fill_tokens

from .factories import large_edition, sample_edition
from .screens import serve_images_offline

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WIDTHS = (320, 375, 600)
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > width + 0.5 || r.left < -0.5) wide.push(el.tagName + '.' + el.className + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
}"""
THUMBS_JS = """() => Array.from(document.querySelectorAll('.video-thumb img')).map(img => {
  const r = img.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right};
})"""


@pytest.fixture(scope="module")
def pages(renderer, token_values):
    return {
        "sample": fill_tokens(renderer.render(sample_edition()).html, token_values),
        "200-items": fill_tokens(renderer.render(large_edition()).html, token_values),
    }


def _open(browser, html: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.route("**/*", serve_images_offline)
    page.set_content(html, wait_until="load")
    return page


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("edition", ["sample", "200-items"])
def test_no_horizontal_overflow(browser, pages, edition, width):
    page = _open(browser, pages[edition], width)
    try:
        result = page.evaluate(OVERFLOW_JS)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{edition}-{width}.png"), full_page=edition == "sample")
    finally:
        page.close()
    assert result["scrollWidth"] <= width, f"horizontal scrolling at {width}px: {result}"
    assert not result["wide"], f"elements wider than the {width}px viewport: {result['wide']}"


def test_video_columns_stack_on_a_phone(browser, pages):
    page = _open(browser, pages["sample"], 375)
    try:
        thumbs = page.evaluate(THUMBS_JS)
    finally:
        page.close()
    assert len(thumbs) >= 2
    first, second = thumbs[0], thumbs[1]
    assert second["top"] >= first["bottom"], f"video thumbnails side by side at 375px: {thumbs[:2]}"


def test_video_columns_side_by_side_on_desktop(browser, pages):
    page = _open(browser, pages["sample"], 600)
    try:
        thumbs = page.evaluate(THUMBS_JS)
    finally:
        page.close()
    first, second = thumbs[0], thumbs[1]
    assert abs(first["top"] - second["top"]) < 1 and second["left"] >= first["right"], thumbs[:2]
