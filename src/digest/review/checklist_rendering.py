"""The email checklist's checks of the HTML as a mail client takes it: nothing active in it,
under the size budget, and a well-formed email document. The browser rules (no horizontal
scrolling, video columns stacking) need Chromium and stay in the tests.

Same shape as :mod:`.checklist_email`: each check yields what fails, naming where.
"""

from __future__ import annotations

import re
from typing import Iterator

from .checklist_email import EmailView, squash

DEFAULT_MAX_HTML_BYTES = 95_000
ACTIVE_TAGS = ("script", "iframe", "form", "object", "embed", "applet", "base", "frame", "frameset", "input", "button")
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "background", "poster", "srcset", "xlink:href", "data")
BAD_SCHEMES = ("javascript:", "data:", "vbscript:")


def sanitised(view: EmailView, selection=None, config=None) -> Iterator[str]:
    """No active content and no remote CSS anywhere in the HTML."""
    root = view.root
    for tag in ACTIVE_TAGS:
        if root.xpath(f"//{tag}"):
            yield f"<{tag}> in the HTML"
    if root.xpath('//link[contains(translate(@rel, "STYLESHEET", "stylesheet"), "stylesheet")]'):
        yield "remote CSS <link> in the HTML"
    if root.xpath('//meta[translate(@http-equiv, "REFSH", "refsh")="refresh"]'):
        yield "meta refresh in the HTML"
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for name, value in el.attrib.items():
            if name.lower().startswith("on"):
                yield f"event handler {name}= on <{el.tag}>"
            if name.lower() in URL_ATTRIBUTES:
                cleaned = re.sub(r"[\s\x00-\x1f]+", "", value).lower()
                if cleaned.startswith(BAD_SCHEMES):
                    yield f"{name}={value!r} on <{el.tag}>"
        lowered = ((el.get("style") or "") + (el.text or "" if el.tag == "style" else "")).lower()
        for needle, what in (("@import", "@import"), ("url(", "url()"), ("expression(", "CSS expression()")):
            if needle in lowered:
                yield f"{what} in the CSS of <{el.tag}>"


def size_budget(view: EmailView, selection=None, config=None) -> Iterator[str]:
    limit = config.selection.max_html_bytes if config is not None else DEFAULT_MAX_HTML_BYTES
    size = len(view.html.encode("utf-8"))
    if size > limit:
        yield f"decoded HTML is {size} bytes, over the {limit}-byte budget (Gmail clips the footer)"


def document(view: EmailView, selection=None, config=None) -> Iterator[str]:
    """Doctype, lang, hidden preheader first, presentation tables, alt text, dark mode, MSO."""
    html, root = view.html, view.root
    if not html.lstrip().lower().startswith("<!doctype html>"):
        yield "no <!doctype html>"
    lang = root.get("lang") or ""
    if not lang or lang.lower() == "und":
        yield f'<html lang="{lang}">: the language is not given'
    elif config is not None and lang != config.publication.language:
        yield f'<html lang="{lang}">, but the publication is in {config.publication.language!r}'
    body = root.find("body")
    first = next(iter(body), None) if body is not None else None
    if first is None or first.tag != "div":
        yield "the preheader must be the body's first element"
    elif "display:none" not in (first.get("style") or "").replace(" ", ""):
        yield "the preheader is not hidden"
    elif not squash(first.text_content()):
        yield "the preheader is empty"
    for table in root.iter("table"):
        if any("briefing-body" in (a.get("class") or "") for a in table.iterancestors()):
            continue  # a data table from the article itself, not layout
        if table.get("role") != "presentation":
            yield "a layout table without role=presentation"
            break
    for img in root.iter("img"):
        if img.get("alt") is None:
            yield f"<img src={img.get('src')!r}> has no alt"
    metas = {(m.get("name") or "").lower(): m.get("content") or "" for m in root.iter("meta")}
    if "dark" not in metas.get("color-scheme", ""):
        yield "no color-scheme meta (dark mode)"
    if "dark" not in metas.get("supported-color-schemes", ""):
        yield "no supported-color-schemes meta (dark mode)"
    if html.count("<!--[if") != html.count("<![endif]-->"):
        yield "unbalanced MSO conditional comments"
    if html.count("<!--[if") == 0:
        yield "no MSO conditional comments at all (not MJML output?)"
