"""Date tokens survive MJML and premailer, and the size budget holds once they are filled."""

from __future__ import annotations

import re
from dataclasses import replace

from digest.content import Selection
from digest.date_tokens import SENT_DATE, date_token, fill_dates
from digest.render.inline import inline_body_html

from .factories import large_edition, sample_edition

DATE_TOKEN = re.compile(r"%%date:\d{12}%%")


def with_date_tokens(selection: Selection) -> Selection:
    """The selection as the selector makes it: every date a zone-free token."""

    def tokenised(items):
        return tuple(replace(i, date_label=date_token(i.published_at)) for i in items)

    return replace(
        selection,
        sections=tuple(replace(s, briefings=tokenised(s.briefings)) for s in selection.sections),
        videos=tokenised(selection.videos),
        recommended=tokenised(selection.recommended),
        related=tokenised(selection.related),
    )


def _all_tokens(selection: Selection) -> set[str]:
    items = [b for s in selection.sections for b in s.briefings]
    items += [*selection.videos, *selection.recommended, *selection.related]
    return {i.date_label for i in items}


def test_date_tokens_come_through_the_pipeline_intact(renderer):
    selection = with_date_tokens(sample_edition())
    email = renderer.render(selection)
    for part in (email.html, email.text):
        assert part.count(SENT_DATE) == 1  # the heading's date, filled when sent
        assert part.count("%%date:") == len(DATE_TOKEN.findall(part)) + 1 > 1  # none mangled
        assert set(DATE_TOKEN.findall(part)) == _all_tokens(selection)  # every item's date
        assert "%%date:" not in fill_dates(part, "Asia/Kolkata")
    assert email.tokens == renderer.render(sample_edition()).tokens  # not per-recipient tokens


def test_premailer_keeps_a_date_token_in_an_attribute():
    token = date_token(sample_edition().sections[0].briefings[0].published_at)
    html = f'<p title="{token}">{token}</p>'
    inlined = inline_body_html(html, ".briefing-body p { color: red }", "briefing-body")
    assert inlined.count(token) == 2 and 'style="color:red"' in inlined


def test_the_budget_holds_with_tokens_and_with_labels(renderer, config):
    email = renderer.render(with_date_tokens(large_edition()))
    budget = config.selection.max_html_bytes
    tokenised = len(email.html.encode())
    assert "%%date:" in email.html
    assert tokenised <= budget
    for zone in ("UTC", "Asia/Kolkata", "America/Los_Angeles"):
        assert len(fill_dates(email.html, zone).encode()) < tokenised  # a label is shorter than its token
