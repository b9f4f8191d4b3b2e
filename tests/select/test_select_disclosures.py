"""Briefings without their disclosures: left out with a warning, or the edition is blocked."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from select_seeding import NOW

from digest.select import SelectionBlocked, Selector

EDITION = date(2026, 11, 27)


def strict(runtime, value: bool):
    config = runtime.settings.config
    return config.model_copy(update={"selection": config.selection.model_copy(update={"strict": value})})


@pytest.fixture
def flawed(seed):
    seed.briefing(title="complete")
    seed.briefing(guid="no-attribution", title="Unsourced", attribution=None)
    seed.briefing(guid="blank-disclosure", title="Undisclosed", author_disclosure="  ")
    seed.briefing(
        guid="paid-unsaid", title="Paid", is_sponsored=True, sponsor_payer="Acme Lithium", sponsor_amount=None
    )
    seed.briefing(
        title="paid and said", is_sponsored=True, sponsor_payer="Acme", sponsor_amount="USD 5,000", sponsor_form="cash"
    )


def test_lenient_mode_leaves_items_out_and_names_them_in_a_warning(runtime, session, flawed, caplog):
    with caplog.at_level(logging.WARNING, logger="digest.select"):
        selector = Selector(session, strict(runtime, False), NOW)
    sel = selector.for_topics(["lithium"], EDITION)
    assert sorted(b.title for b in sel.sections[0].briefings) == ["complete", "paid and said"]
    assert all(r.title in ("complete", "paid and said") for r in sel.related)
    warnings = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for guid, missing in [
        ("no-attribution", "source attribution"),
        ("blank-disclosure", "author disclosure"),
        ("paid-unsaid", "paid-promotion disclosure"),
    ]:
        assert guid in warnings and missing in warnings
    assert "complete" not in warnings
    sponsored = next(b for b in sel.sections[0].briefings if b.sponsor)
    assert (sponsored.sponsor.payer, sponsored.sponsor.amount, sponsored.sponsor.form) == ("Acme", "USD 5,000", "cash")


def test_strict_mode_blocks_and_names_every_incomplete_item(runtime, session, flawed):
    selector = Selector(session, strict(runtime, True), NOW)
    with pytest.raises(SelectionBlocked) as info:
        selector.for_topics(["lithium"], EDITION)
    assert {i.guid for i in info.value.items} == {"no-attribution", "blank-disclosure", "paid-unsaid"}
    message = str(info.value)
    assert "no-attribution" in message and "'Unsourced'" in message and "source attribution" in message
    with pytest.raises(SelectionBlocked):  # memoised answers block too
        selector.for_topics(["lithium"], EDITION)


def test_strict_mode_does_not_block_readers_who_would_never_see_the_item(runtime, session, seed):
    seed.briefing(guid="bad-lithium", attribution=None, topics=("lithium",))
    seed.briefing(title="gold news", topics=("gold",))
    seed.briefing(guid="bad-pick", attribution=None, topics=("copper",), is_editor_pick=True, hours_ago=50)
    selector = Selector(session, strict(runtime, True), NOW)
    assert {i.guid for i in selector.incomplete} == {"bad-lithium", "bad-pick"}
    with pytest.raises(SelectionBlocked) as info:  # the copper pick would be Recommended to a gold reader
        selector.for_topics(["gold"], EDITION)
    assert [i.guid for i in info.value.items] == ["bad-pick"]
    gold_today = selector.for_topics(["gold"], EDITION, since=NOW.replace(hour=6))
    assert gold_today.sections[0].briefings[0].title == "gold news"
