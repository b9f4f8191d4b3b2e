"""The emails a signup sends pass the email checklist's rules that apply to them
(tests/render/checklist.py: structure and headers, as a transactional message without
List-Unsubscribe headers, no token left, nothing active, the size
budget, the document rules but MJML's MSO comments, and for the welcome its visible
unsubscribe link and postal address); the welcome goes only when ``[signup]
welcome_email`` is on, and says what the reader gets and when."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from digest.settings import SignupSettings
from digest.web import create_app
from test_web_resubscribe import confirm_path, outbox_messages
from test_web_signup import FORM

_spec = importlib.util.spec_from_file_location(
    "email_checklist", Path(__file__).resolve().parents[1] / "render" / "checklist.py")
checklist = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checklist)


def check_applicable(message, config, *, unsubscribe_shown: bool) -> None:
    checklist.check_structure(message, config=config, transactional=True)
    for check in (checklist.check_no_tokens_left, checklist.check_sanitised, checklist.check_size_budget):
        check(message, config=config)
    if unsubscribe_shown:  # no header to take the link from: the message is transactional
        _, html = checklist.parts(message)
        [url] = {a.get("href") for a in checklist.tree(html).iter("a")
                 if (a.get("href") or "").startswith("https://digest.test/unsubscribe/")}
        checklist.check_unsubscribe_and_address(message, config=config, url=url)
    _, html = checklist.parts(message)
    assert html.lstrip().lower().startswith("<!doctype html>")
    root = checklist.tree(html)
    assert root.get("lang") == config.publication.language
    first = next(iter(root.find("body")))
    assert first.tag == "div" and "display:none" in first.get("style").replace(" ", "")
    assert checklist.squash(first.text_content()) == str(message["Subject"])
    metas = {m.get("name"): m.get("content") for m in root.iter("meta")}
    assert metas["color-scheme"] == metas["supported-color-schemes"] == "light dark"
    assert checklist.squash(config.publication.postal_address) in checklist.squash(html)


@pytest.mark.parametrize("welcome", [True, False], ids=["welcome", "no-welcome"])
def test_signup_emails_pass_the_checklist_and_the_welcome_follows_the_setting(web_runtime, welcome):
    settings = web_runtime.settings
    config = settings.config.model_copy(update={"signup": SignupSettings(welcome_email=welcome)})
    runtime = dataclasses.replace(web_runtime, settings=settings.with_overrides(config=config))
    with TestClient(create_app(runtime)) as client:
        assert client.post("/subscribe", data=FORM).status_code == 200
        (confirmation,) = outbox_messages(runtime)
        check_applicable(confirmation, config, unsubscribe_shown=False)
        assert client.post(confirm_path(confirmation)).status_code == 200
    later = [m for m in outbox_messages(runtime) if m["Message-ID"] != confirmation["Message-ID"]]
    if not welcome:
        assert later == []
        return
    (message,) = later
    assert message["To"] == "new.reader@example.com"
    assert message["Subject"] == "Welcome to Ridgeline Resource Briefing"
    check_applicable(message, config, unsubscribe_shown=True)
    text = message.get_body(("plain",)).get_content()
    assert "one email a day with what was published on Gold, Copper." in text
    assert "When: at 06:00 (Europe/Berlin), from the next edition." in text
    assert "https://digest.test/preferences/" in text
