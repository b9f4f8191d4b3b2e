"""Per-recipient tokens survive MJML and premailer, and build_message fills every one."""

from __future__ import annotations

import re

from digest.content import TOKEN_NAMES, token, tokens_in

from .factories import sample_edition, single_item_edition


def test_every_token_is_used_in_html_and_text(renderer):
    email = renderer.render(sample_edition())
    assert email.tokens == frozenset(TOKEN_NAMES)
    for name in TOKEN_NAMES:
        assert token(name) in email.html, name
        assert token(name) in email.text, name
    assert tokens_in(email.html) <= set(TOKEN_NAMES)


def test_tokens_are_intact_in_href_attributes(renderer):
    email = renderer.render(single_item_edition())
    hrefs = re.findall(r'href="([^"]*%[^"]*)"', email.html)
    assert sorted(set(hrefs)) == ["%%archive_url%%", "%%preferences_url%%", "%%unsubscribe_url%%"]


def test_build_message_fills_them_all(renderer, to_message, token_values):
    msg = to_message(renderer.render(sample_edition()))
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "%%" not in part
        assert token_values["unsubscribe_url"] in part
        assert token_values["preferences_url"] in part
        assert token_values["archive_url"] in part
    assert f"This email was sent to {token_values['email']} because" in " ".join(html.split())
