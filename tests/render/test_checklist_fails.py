"""The checks really fail: each is run on a sample email broken in one way."""

from __future__ import annotations

from dataclasses import replace

import pytest

from . import checklist
from .factories import sample_edition

BREAKAGES = {
    "no doctype": (lambda h: h.replace("<!doctype html>", ""), checklist.check_document),
    "lang und": (lambda h: h.replace('lang="en"', 'lang="und"'), checklist.check_document),
    "layout table": (lambda h: h.replace('role="presentation"', ""), checklist.check_document),
    "img without alt": (lambda h: h.replace('alt="Ridgeline Resource Briefing"', ""), checklist.check_document),
    "no dark mode": (lambda h: h.replace('name="color-scheme"', 'name="x"'), checklist.check_document),
    "mso unbalanced": (lambda h: h.replace("<![endif]-->", "", 1), checklist.check_document),
    "script": (lambda h: h.replace("</body>", "<script>x()</script></body>"), checklist.check_sanitised),
    "handler": (lambda h: h.replace("<p ", '<p onclick="x()" ', 1), checklist.check_sanitised),
    "js link": (lambda h: h.replace('href="https://', 'href="javascript:', 1), checklist.check_sanitised),
    "remote css": (lambda h: h.replace("</head>", '<style>@import "https://x/y.css";</style></head>'), checklist.check_sanitised),
    "no attribution": (lambda h: h.replace("<strong>Source:</strong>", "<strong>Src</strong>", 1), checklist.check_disclosures_next_to_items),
    "no sponsor box": (lambda h: h.replace('class="sponsor-box"', 'class="x"'), checklist.check_disclosures_next_to_items),
    "no disclaimer": (lambda h: h.replace("recommendation to buy or sell", "tip"), checklist.check_standing_disclaimer),
    "no address": (lambda h: h.replace("400 Harbour Street", "somewhere"), checklist.check_unsubscribe_and_address),
    "no unsubscribe": (lambda h: h.replace(">Unsubscribe<", "><"), checklist.check_unsubscribe_and_address),
    "too big": (lambda h: h.replace("</body>", "<p>" + "x" * 60_000 + "</p></body>"), checklist.check_size_budget),
    "token left": (lambda h: h.replace("</body>", "%%email%%</body>"), checklist.check_no_tokens_left),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_check_fails_on_broken_email(breakage, renderer, to_message, config):
    selection = sample_edition()
    email = renderer.render(selection)
    check = BREAKAGES[breakage][1]
    check(to_message(email), selection, config)  # passes unbroken
    broken = replace(email, html=BREAKAGES[breakage][0](email.html))
    assert broken.html != email.html, "the breakage did not apply"
    msg = to_message(broken) if breakage != "token left" else _with_raw_html(to_message(email), broken.html)
    with pytest.raises(AssertionError):
        check(msg, selection, config)


def _with_raw_html(msg, html):
    msg.get_body(("html",)).set_content(html, subtype="html", charset="utf-8")
    return msg
