"""A sponsored piece keeps its paid-promotion disclosure wherever it goes: a card, a
recommended piece, a related headline (beyond max_per_topic, or moved by the size
budget), in the HTML and in the text part; and the checklist fails when one does not."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from digest.content import SponsorDisclosure
from digest.select.candidates import BriefingCandidate
from digest.select.rules import Reader, choose

from . import checklist
from .factories import EDITION_DATE

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)
READER = Reader(topics=("lithium", "gold"))  # the sample config: 4 cards a topic, 12 headlines


def payer(n: int) -> SponsorDisclosure:
    return SponsorDisclosure(payer=f"Payer {n} Minerals Inc.", amount=f"USD {n},500", form="cash" if n % 2 else "shares",
                             text=None)


def candidate(n: int, topic: str, sponsor: SponsorDisclosure | None, *, pick: bool = False,
              body: str = "<p>Drill results.</p>") -> BriefingCandidate:
    return BriefingCandidate(
        id=n, guid=f"guid-{n}", url=f"https://ridgeline.example/briefings/{n}", title=f"Briefing {n} on {topic}",
        body_html=body, excerpt=f"Excerpt of briefing {n}.", author="Theo Lachance",
        published_at=NOW - timedelta(hours=n), topics=(topic,),
        attribution=f"Information for briefing {n} was found via a news release.",
        author_disclosure="The author holds no position.", sponsor=sponsor, is_editor_pick=pick,
    )


def nine_sponsored(body: str = "<p>Drill results.</p>") -> list[BriefingCandidate]:
    """Nine sponsored lithium pieces (1 newest .. 9 oldest), a sponsored and a plain gold
    piece, and a sponsored editor pick on copper (outside the reader's topics)."""
    return (
        [candidate(n, "lithium", payer(n), body=body) for n in range(1, 10)]
        + [candidate(10, "gold", payer(10)), candidate(11, "gold", None)]
        + [candidate(12, "copper", payer(12), pick=True)]
    )


def render(renderer, selection):
    return renderer.render(selection).dated("UTC")


def rendered(selection, renderer, to_message):
    email = render(renderer, selection)
    return email, to_message(email)


def headline_notes(html: str) -> list[str]:
    """The short disclosures printed under related headlines, in order."""
    return re.findall(r'<strong class="sponsor-note"[^>]*>([^<]+)</strong>', html)


def test_nine_sponsored_pieces_in_one_topic_all_labelled(renderer, to_message, config):
    selection = choose(nine_sponsored(), [], READER, config, EDITION_DATE)
    # Where each piece went, worked out by hand: the four newest lithium pieces and both gold
    # ones are cards, lithium 5-9 headlines, the copper pick recommended.
    assert [[b.id for b in s.briefings] for s in selection.sections] == [[1, 2, 3, 4], [10, 11]]
    assert [r.id for r in selection.related] == [5, 6, 7, 8, 9]
    assert [b.id for b in selection.recommended] == [12]

    email, msg = rendered(selection, renderer, to_message)
    checklist.check_sponsored_labelled_wherever_shown(msg, selection, config)
    checklist.check_disclosures_next_to_items(msg, selection, config)
    text, html = checklist.parts(msg)

    assert headline_notes(html) == [
        "Sponsored by Payer 5 Minerals Inc. (USD 5,500, cash)",
        "Sponsored by Payer 6 Minerals Inc. (USD 6,500, shares)",
        "Sponsored by Payer 7 Minerals Inc. (USD 7,500, cash)",
        "Sponsored by Payer 8 Minerals Inc. (USD 8,500, shares)",
        "Sponsored by Payer 9 Minerals Inc. (USD 9,500, cash)",
    ]
    # Cards: lithium 1-4, gold 10, copper 12 (recommended) carry the full box.
    assert html.count('class="sponsor-box"') == 6
    for n in (1, 2, 3, 4, 10, 12):
        assert f"Paid by: Payer {n} Minerals Inc." in html
    # The text part: a label before each title, the payer under each headline.
    for n in (5, 6, 7, 8, 9):
        assert f"[SPONSORED] Briefing {n} on lithium\nSponsored by Payer {n} Minerals Inc." in text
    for n in (1, 2, 3, 4, 10, 12):
        assert re.search(rf"\[SPONSORED\] Briefing {n} on \w+\n", text)
    # 11 pieces, and the five cards of the topics again in the "In this issue" list.
    assert text.count("[SPONSORED]") == 11 + 5 and "[SPONSORED] Briefing 11" not in text


def test_pieces_moved_by_the_size_budget_stay_labelled(renderer, to_message, config):
    long_body = "<p>" + "A long look at the resource estimate. " * 900 + "</p>"  # ~34 KB a card
    selection = choose(nine_sponsored(long_body), [], READER, config, EDITION_DATE)
    email, msg = rendered(selection, renderer, to_message)
    _, html = checklist.parts(msg)
    cards = re.findall(r"Briefing (\d) on lithium</a></h3>", html)
    assert len(cards) < 4, "the budget should have moved lithium cards to the headlines"
    moved = [n for n in ("1", "2", "3", "4") if n not in cards]
    # Moved cards come first among the headlines, before what never made the cut.
    expected = [f"Payer {n} Minerals Inc." for n in moved + ["5", "6", "7", "8", "9"]]
    assert [note.split(" (")[0].removeprefix("Sponsored by ") for note in headline_notes(html)] == expected
    checklist.check_sponsored_labelled_wherever_shown(msg, selection, config)


# ----------------------------------------------------------------- the checklist can fail


def test_checklist_fails_on_an_unlabelled_headline(renderer, to_message, config):
    """The defect this check exists for: a headline that lost its sponsor on the way."""
    selection = choose(nine_sponsored(), [], READER, config, EDITION_DATE)
    bare = replace(selection, related=tuple(replace(r, sponsor=None) if r.id == 7 else r for r in selection.related))
    _, msg = rendered(bare, renderer, to_message)
    with pytest.raises(AssertionError, match=r"sponsored 'Briefing 7 on lithium' shown in the HTML without"):
        checklist.check_sponsored_labelled_wherever_shown(msg, selection, config)


@pytest.mark.parametrize("part", ["html", "text"])
def test_checklist_fails_when_one_part_drops_the_payer(part, renderer, to_message, config):
    selection = choose(nine_sponsored(), [], READER, config, EDITION_DATE)
    email = render(renderer, selection)
    note = "Sponsored by Payer 8 Minerals Inc. (USD 8,500, shares)"
    assert note in getattr(email, part)
    msg = to_message(replace(email, **{part: getattr(email, part).replace(note, "")}))
    where = "the HTML" if part == "html" else "the text part"
    with pytest.raises(AssertionError, match=rf"sponsored 'Briefing 8 on lithium' (shown )?in {where} without"):
        checklist.check_sponsored_labelled_wherever_shown(msg, selection, config)


def test_checklist_fails_on_a_card_without_its_payer(renderer, to_message, config):
    selection = choose(nine_sponsored(), [], READER, config, EDITION_DATE)
    email = render(renderer, selection)
    html = email.html.replace("Paid by: Payer 3 Minerals Inc.", "Paid by: someone")
    msg = to_message(replace(email, html=html))
    with pytest.raises(AssertionError, match=r"'Briefing 3 on lithium' shown in the HTML without 'Payer 3 Minerals Inc.'"):
        checklist.check_sponsored_labelled_wherever_shown(msg, selection, config)
