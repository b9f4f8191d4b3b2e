"""Every rule of the checklist's structure, Content and Rendering sections, on three editions."""

from __future__ import annotations

import re

import pytest

from . import checklist
from .factories import large_edition, sample_edition, single_item_edition

CHECKS = [getattr(checklist, name) for name in sorted(dir(checklist)) if name.startswith("check_")]
EDITIONS = {"sample": sample_edition, "single": single_item_edition, "200-items": large_edition}


@pytest.fixture(scope="module")
def rendered(renderer):
    cache = {}

    def _get(name):
        if name not in cache:
            selection = EDITIONS[name]()
            cache[name] = (selection, renderer.render(selection))
        return cache[name]

    return _get


@pytest.mark.parametrize("edition", list(EDITIONS))
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_checklist(edition, check, rendered, to_message, config):
    selection, email = rendered(edition)
    msg = to_message(email)
    check(msg, selection, config)
    check(msg)  # as the preview tests call it: the message alone


def test_sample_edition_shows_every_block(rendered):
    selection, email = rendered("sample")
    html = email.html
    for section in selection.sections:
        assert section.title.upper() in html
    for video in selection.videos:
        assert f'alt="Watch the video: {video.title}"' in html
        assert video.url in html
    for item in selection.recommended:
        assert item.title in html
    for r in selection.related:
        assert r.title in html and r.excerpt in html and r.date_label in html
    assert "SPONSORED" in html and "USD 4,500" in html and "cash" in html
    assert "The author holds shares of Northgate Gold Ltd." in html
    assert 'src="https://ridgeline.example/static/logo-240.png"' in html
    assert 'alt="Ridgeline Resource Briefing"' in html
    assert "#12355b" in html  # branding colour from the config


def test_subject_and_preheader(rendered):
    _, email = rendered("sample")
    assert email.subject == "Ridgeline Resource Briefing: 6 briefings on Lithium, Gold, Copper and 1 more — 27 Nov 2026"
    assert email.preheader.startswith("Tamarack Lithium Corp. publishes a maiden resource at Kettle Lake · ")
    assert len(email.preheader) <= 150
    _, single = rendered("single")
    assert single.subject == "Ridgeline Resource Briefing: 1 briefing on Lithium — 27 Nov 2026"
    body = re.search(r"<body[^>]*>(.*)", single.html, re.S).group(1)
    assert body.index(single.preheader) < body.index("Kettle Lake</a>")


def test_budget_moves_lowest_ranked_items_to_related(rendered, config):
    selection, email = rendered("200-items")
    size = len(email.html.encode())
    assert size <= config.selection.max_html_bytes
    assert size > config.selection.max_html_bytes * 0.8, "the budget should be used, not wasted"
    # The footer survives: disclaimer, address, unsubscribe.
    assert config.disclaimer.text.split()[0] in email.html
    assert config.publication.postal_address in email.html
    assert "%%unsubscribe_url%%" in email.html
    # Each topic keeps its best-ranked pieces; the last-ranked ones became headlines.
    shown = re.search(r"(\d+) briefings", email.subject)
    kept = int(shown.group(1))
    assert 5 <= kept < 200
    for section in selection.sections:
        assert section.briefings[0].title in email.html, f"{section.slug} lost its top briefing"
    moved_first = [s.briefings[-1] for s in selection.sections]  # the very lowest-ranked
    related_block = email.html[email.html.index("RELATED NEWS"):]
    listed = [item for item in moved_first if item.title in related_block]
    assert listed or "more today on" in related_block
    assert re.search(r"And \d+ more today on", related_block), "the headlines beyond the limit are counted"
    # A moved item is no longer a card.
    assert email.html.count('class="card-title"') == kept


def test_moved_headlines_appear_in_rank_order(renderer, config):
    from .factories import make_briefing
    from digest.content import Selection, TopicSection
    from dataclasses import replace

    big_body = "<p>" + "Long analysis. " * 2000 + "</p>"
    items = tuple(replace(make_briefing(i, 0), body_html=big_body, title=f"Piece number {i}") for i in range(6))
    selection = Selection(
        edition_date=large_edition().edition_date, topics=("lithium",),
        sections=(TopicSection("lithium", "Lithium", items),),
    )
    email = renderer.render(selection)
    assert len(email.html.encode()) <= config.selection.max_html_bytes
    assert "Piece number 0</a></h3>" in email.html
    related = email.html[email.html.index("RELATED NEWS"):]
    positions = [related.find(f"Piece number {i}<") for i in range(6)]
    moved = [p for p in positions if p >= 0]
    assert moved, "over-budget items should be listed as related headlines"
    assert moved == sorted(moved), "moved headlines keep their rank order"
    assert positions[-1] >= 0, "the lowest-ranked item is the first to move"
