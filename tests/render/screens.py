"""What the before/after render comparison looks at in a body: its links, its visible
text and its screenshots in Chromium (Playwright, Debian's Chromium, no network: images
are answered locally), and a pixel diff of two screenshots (Pillow)."""

from __future__ import annotations

import io
import re

from lxml import html as lxml_html
from PIL import Image, ImageChops

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--font-render-hinting=none"]
LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="40" viewBox="0 0 240 40">'
        '<text x="0" y="28" font-family="Georgia" font-size="24" fill="#fff">Ridgeline</text></svg>')
PICTURE = ('<svg xmlns="http://www.w3.org/2000/svg" width="480" height="270" viewBox="0 0 480 270">'
           '<rect width="480" height="270" fill="#3b5573"/><polygon points="210,100 210,170 270,135" fill="#fff"/></svg>')


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def links(html: str) -> list[str]:
    """Every ``href`` and ``src`` in document order."""
    page = lxml_html.document_fromstring(html)
    return [value for element in page.iter() if isinstance(element.tag, str)
            for name in ("href", "src") if (value := element.get(name)) is not None]


def serve_images_offline(route):
    """No network: images are answered locally (the logo and a picture), anything else refused."""
    if route.request.resource_type == "image":
        body = LOGO if "logo" in route.request.url else PICTURE
        route.fulfill(status=200, content_type="image/svg+xml", body=body)
    else:
        route.abort()


def open_page(browser, html: str, width: int, dark: bool = False):
    page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme="dark" if dark else "light",
                            device_scale_factor=1)
    page.route("**/*", serve_images_offline)
    page.set_content(html, wait_until="load")
    return page


def visible_text(browser, html: str) -> str:
    """The text a reader sees at 600 px (``innerText``: what CSS hides is not in it)."""
    page = open_page(browser, html, 600)
    try:
        return normalise(page.evaluate("() => document.body.innerText"))
    finally:
        page.close()


def screenshot(browser, html: str, width: int, dark: bool = False) -> bytes:
    page = open_page(browser, html, width, dark)
    try:
        return page.screenshot(full_page=True, animations="disabled", caret="hide")
    finally:
        page.close()


def differing_share(first: bytes, second: bytes) -> float:
    """The share of pixels that differ between two PNGs; where one is taller or wider
    than the other, the pixels only one of them has count as different."""
    a, b = (Image.open(io.BytesIO(png)).convert("RGB") for png in (first, second))
    width, height = max(a.width, b.width), max(a.height, b.height)
    same_area = min(a.width, b.width) * min(a.height, b.height)
    box = (0, 0, min(a.width, b.width), min(a.height, b.height))
    diff = ImageChops.difference(a.crop(box), b.crop(box)).convert("L").point(lambda v: 255 if v else 0)
    differing = diff.histogram()[255] + (width * height - same_area)
    return differing / (width * height)
