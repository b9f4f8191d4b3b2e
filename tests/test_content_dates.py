"""Date tokens: a rendered body's dates without a time zone, filled per reader's zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from digest.content import RenderedEmail, Selection, fill_tokens, tokens_in
from digest.date_tokens import date_token, fill_dates, split_dates
from digest.message import build_message
from digest.settings import load_settings

LATE = datetime(2026, 11, 26, 23, 30, tzinfo=timezone.utc)


def test_a_date_token_is_the_utc_minute():
    assert date_token(LATE) == "%%date:202611262330%%"
    assert date_token(LATE.astimezone(ZoneInfo("Asia/Kolkata"))) == date_token(LATE)  # same moment, same token
    with pytest.raises(ValueError):
        date_token(datetime(2026, 11, 26, 23, 30))


def test_fill_dates_labels_each_token_in_the_zone():
    text = f"<p>{date_token(LATE)} · By A. Writer</p><p>{date_token(datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc))}</p>"
    assert fill_dates(text, "Europe/London") == "<p>26 Nov 2026 · By A. Writer</p><p>27 Nov 2026</p>"
    assert fill_dates(text, "Asia/Kolkata") == "<p>27 Nov 2026 · By A. Writer</p><p>27 Nov 2026</p>"
    assert fill_dates(text, "No/Such_Zone") == "<p>26 Nov 2026 · By A. Writer</p><p>27 Nov 2026</p>"  # UTC
    assert split_dates(text) == ["<p>", "202611262330", " · By A. Writer</p><p>", "202611270900", "</p>"]
    assert fill_dates("no dates here", "UTC") == "no dates here"


def test_the_sent_date_splits_out_as_the_sending_minute_in_the_same_pass():
    text = f"<h1>%%date:sent%%</h1><p>{date_token(LATE)}</p>%%date:sent%%"
    assert split_dates(text, "202611271205") == ["<h1>", "202611271205", "</h1><p>", "202611262330", "</p>",
                                                 "202611271205", ""]
    assert split_dates(text) == ["<h1>%%date:sent%%</h1><p>", "202611262330", "</p>%%date:sent%%"]
    assert split_dates("no dates", "202611271205") == ["no dates"]


def test_per_recipient_tokens_leave_date_tokens_alone():
    text = f"{date_token(LATE)}%%email%% and %%unsubscribe_url%% {date_token(LATE)}"
    assert tokens_in(text) == {"email", "unsubscribe_url"}
    filled = fill_tokens(text, {"email": "a@example.com", "unsubscribe_url": "https://u"})
    assert filled == f"{date_token(LATE)}a@example.com and https://u {date_token(LATE)}"
    with pytest.raises(KeyError):
        fill_tokens(text, {"email": "a@example.com"})


def test_a_rendered_email_is_dated_per_zone_keeping_its_tokens():
    body = RenderedEmail(f"News {date_token(LATE)}", "pre", f"<p>{date_token(LATE)} %%email%%</p>",
                         f"{date_token(LATE)} %%email%%", frozenset({"email"}))
    assert [split_dates(part)[1::2] for part in (body.subject, body.preheader, body.html, body.text)] == [
        ["202611262330"], [], ["202611262330"], ["202611262330"]]
    kolkata = body.dated("Asia/Kolkata")
    assert (kolkata.subject, kolkata.html, kolkata.text) == ("News 27 Nov 2026", "<p>27 Nov 2026 %%email%%</p>",
                                                             "27 Nov 2026 %%email%%")
    assert kolkata.tokens == body.tokens


def test_a_message_never_leaves_with_a_date_token():
    config = load_settings({}, demo=True).config
    body = RenderedEmail("Subject", "pre", f"<p>{date_token(LATE)}</p>", "%%unsubscribe_url%%")
    with pytest.raises(ValueError, match="date tokens"):
        build_message(body, config=config, to="r@example.com", tokens={"unsubscribe_url": "https://u"})
    msg = build_message(body.dated("UTC"), config=config, to="r@example.com", tokens={"unsubscribe_url": "https://u"})
    assert "26 Nov 2026" in msg.get_body(("html",)).get_content()


def test_a_selection_is_fingerprinted_once_per_object(monkeypatch):
    selection = Selection(date(2026, 11, 27), ("gold",), sections=())
    first = selection.fingerprint()
    import digest.content as content

    monkeypatch.setattr(content.hashlib, "sha256", lambda *_: pytest.fail("hashed twice"))
    assert selection.fingerprint() == first
    monkeypatch.undo()
    assert Selection(date(2026, 11, 27), ("gold",), sections=()).fingerprint() == first  # equal content, equal hash
    assert replace(selection, topics=("lithium",)).fingerprint() != first
    assert replace(selection, topics=("lithium",)) != selection and selection == Selection(date(2026, 11, 27), ("gold",), sections=())
    # Nested content counts: a different note, or an item's changed date, is another selection.
    assert replace(selection, note="Nothing new today").fingerprint() != first
