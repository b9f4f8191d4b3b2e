"""The emails in Debian's Chromium, for readers on screen readers, in the dark and with
images off: axe-core (bundled by the axe-playwright-python package, injected from disk,
never loaded from another site) in the light scheme (every rule) and the dark scheme
(color-contrast); every block on the dark surface with readable disclosures; the
masthead's alt text readable when images are blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.contrast import AA_TEXT, luminance, ratio

from .conftest import CHECKED_EMAILS, html_part

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
BLOCKING = ("serious", "critical")

#: For every element with text of its own: its colour and the first background behind it.
TEXT_COLOURS_JS = """(selector) => {
  const out = [];
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (bg && bg !== 'transparent' && !bg.startsWith('rgba(0, 0, 0, 0')) return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  for (const el of document.querySelectorAll(selector)) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    const r = el.getBoundingClientRect();
    if (!own || r.width === 0 || r.height === 0) continue;
    out.push({tag: el.tagName, cls: el.className, text: el.textContent.trim().slice(0, 40),
              color: getComputedStyle(el).color, background: background(el)});
  }
  return out;
}"""
BACKGROUNDS_JS = """() => Array.from(document.querySelectorAll('body *')).map(el => {
  const r = el.getBoundingClientRect();
  return {tag: el.tagName, cls: String(el.className), bg: getComputedStyle(el).backgroundColor,
          visible: r.width > 0 && r.height > 0};
}).filter(e => e.visible && e.bg !== 'transparent' && !e.bg.startsWith('rgba(0, 0, 0, 0'))"""
SECTIONS_JS = """() => Array.from(document.querySelectorAll('[role=article] > div')).map(el => ({
  cls: String(el.className), bg: getComputedStyle(el).backgroundColor}))"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    import axe_playwright_python  # the test extra: missing is an error, never a skip

    return Path(axe_playwright_python.__file__).with_name("axe.min.js").read_text(encoding="utf-8")


def _open(browser, html: str, scheme: str, width: int = 600):
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page.route("**/*", lambda route: route.abort())  # nothing from the network: images are off
    page.set_content(html, wait_until="load")
    return page


def _axe(page, axe_source: str, options: dict, *, inject: bool = True) -> list[dict]:
    if inject:
        page.add_script_tag(content=axe_source)
    result = page.evaluate("async (options) => await axe.run(document, options)", options)
    return [
        {"rule": v["id"], "impact": v["impact"], "where": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"] if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("name", CHECKED_EMAILS)
def test_axe_light_all_rules_dark_color_contrast(browser, checked_emails, axe_source, name):
    page = _open(browser, html_part(checked_emails[name]), "light")
    try:
        light = _axe(page, axe_source, {"resultTypes": ["violations"]})
        page.emulate_media(color_scheme="dark")
        dark = _axe(page, axe_source, {"runOnly": {"type": "rule", "values": ["color-contrast"]}}, inject=False)
    finally:
        page.close()
    assert (light, dark) == ([], [])


def test_dark_scheme_every_section_dark_and_disclosures_readable(browser, checked_emails):
    raw = checked_emails["sponsored"]
    page = _open(browser, html_part(raw), "dark")
    try:
        sections = page.evaluate(SECTIONS_JS)
        backgrounds = page.evaluate(BACKGROUNDS_JS)
        disclosures = page.evaluate(TEXT_COLOURS_JS, ".disclosures p, .disclosures strong, .sponsor-box, "
                                    ".sponsored-tag, .footer p, .footer a, .meta")
    finally:
        page.close()
    # Every block, the footer included, on the dark surface (the masthead keeps the brand's
    # dark primary colour, under which white text is checked at config load).
    classes = [s["cls"] for s in sections]
    assert any("footer" in c for c in classes) and any("topic" in c for c in classes), classes
    for section in sections:
        if "masthead" in section["cls"]:
            assert luminance(section["bg"]) == pytest.approx(luminance("#12355b"), abs=1e-6)
        else:
            assert section["bg"] == "rgb(22, 27, 34)", section  # #161b22
    light = [b for b in backgrounds if luminance(b["bg"]) > 0.05]
    assert light == [], light[:5]
    # Disclosures, the sponsor box and label, the footer: 4.5:1 on what is behind them.
    kinds = {d["cls"].split()[0] if d["cls"] else d["tag"] for d in disclosures}
    assert {"sponsor-box", "sponsored-tag", "STRONG", "meta"} <= kinds, kinds
    weak = [(d["text"], d["color"], d["background"], round(ratio(d["color"], d["background"]), 2))
            for d in disclosures if ratio(d["color"], d["background"]) < AA_TEXT]
    assert weak == []


def test_images_blocked_masthead_alt_text_readable(browser, checked_emails):
    page = _open(browser, html_part(checked_emails["demo-1"]), "light", width=375)
    try:
        logo = page.locator(".masthead-logo img")
        alt = logo.get_attribute("alt")
        box = logo.bounding_box()
        colours = page.evaluate("""() => {
          const img = document.querySelector('.masthead-logo img');
          const s = getComputedStyle(img);
          let bg = null;
          for (let e = img; e && !bg; e = e.parentElement) {
            const b = getComputedStyle(e).backgroundColor;
            if (b !== 'transparent' && !b.startsWith('rgba(0, 0, 0, 0')) bg = b;
          }
          return {color: s.color, fontSize: parseFloat(s.fontSize), fontWeight: s.fontWeight,
                  loaded: img.complete && img.naturalWidth > 0, background: bg};
        }""")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = page.locator(".masthead").first.screenshot(path=str(ARTIFACTS / "masthead-images-blocked.png"))
    finally:
        page.close()
    assert alt == "Ridgeline Resource Briefing"
    assert colours["loaded"] is False  # the image really is blocked: the alt text is what shows
    assert box["height"] >= colours["fontSize"]  # the alt text has room to be drawn
    assert colours["background"] == "rgb(18, 53, 91)"  # #12355b, the sample's masthead
    assert colours["color"] == "rgb(255, 255, 255)"
    assert ratio(colours["color"], colours["background"]) >= AA_TEXT  # 12.5:1
    assert colours["fontSize"] == 20 and colours["fontWeight"] == "700"
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
