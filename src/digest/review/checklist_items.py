"""The email checklist's checks next to each item: every card carries its source attribution
and author disclosure, and a sponsored piece is labelled paid, with its payer, amount and
form, wherever it went (card, recommended, related headline, any list of titles), in the
HTML and in the text part (Securities Act 17(b)).

Same shape as :mod:`.checklist_email`: each check yields what fails, naming the item.
"""

from __future__ import annotations

import re
from typing import Iterator

from .checklist_email import EmailView, briefings, by_class, squash


def _title(card) -> str:
    titles = by_class(card, "card-title")
    return squash(titles[0].text_content()) if titles else ""


def disclosures_next_to_items(view: EmailView, selection=None, config=None) -> Iterator[str]:
    """Each card carries its source attribution and author disclosure (and a sponsored one
    its label and paid-promotion disclosure) inside the card itself."""
    cards = by_class(view.root, "card")
    if selection is not None and briefings(selection) and not cards:
        yield "briefings were selected but the HTML shows no card"
    plain = view.plain
    for card in cards:
        content = squash(card.text_content())
        title = _title(card)
        if not title:
            yield "a card has no title"
            continue
        if not re.search(r"Source: \S", content):
            yield f"card {title!r} has no source attribution"
        if not re.search(r"Author disclosure: \S", content):
            yield f"card {title!r} has no author disclosure"
        if title not in plain:
            yield f"card {title!r} is not in the text part"
        disclosures = [squash(p.text_content()) for block in by_class(card, "disclosures") for p in block.iter("p")]
        if any(d not in plain for d in disclosures):
            yield f"disclosure of {title!r} missing from the text part"
        if "SPONSORED" in content.upper():
            if not by_class(card, "sponsor-box"):
                yield f"sponsored card {title!r} has no paid-promotion disclosure"
            if not by_class(card, "sponsored-label"):
                yield f"sponsored card {title!r} is not labelled"
    if selection is not None:
        card_by_title = {_title(c): c for c in cards}
        for item in briefings(selection):
            card = card_by_title.get(squash(item.title))
            if card is None:
                # Moved to the related headlines by the size budget: a headline carries no
                # attribution; its paid-promotion label is checked wherever it went by
                # sponsored_labelled_wherever_shown.
                continue
            content = squash(card.text_content())
            if squash(item.attribution or "") not in content:
                yield f"{item.title!r}: attribution not next to it"
            if squash(item.author_disclosure or "") not in content:
                yield f"{item.title!r}: author disclosure not next to it"


def _sponsored(selection) -> list:
    """Every sponsored piece of the selection, whatever block it was chosen for."""
    items = briefings(selection) + list(selection.related)
    return [item for item in items if getattr(item, "sponsor", None) is not None]


def _sponsor_facts(sponsor) -> list[str]:
    facts = [f for f in (sponsor.payer, sponsor.amount, sponsor.form) if f and f.strip()]
    return facts if len(facts) == 3 or not (sponsor.text or "").strip() else [sponsor.text]


def _labelled(place: str, facts: list[str]) -> list[str]:
    """What of the label and the facts is missing from ``place`` (squashed text)."""
    lowered = place.lower()
    missing = [] if "sponsored" in lowered else ["the SPONSORED label"]
    return missing + [repr(f) for f in facts if squash(f).lower() not in lowered]


#: The blocks a title can stand in: a card, a related headline; anything else (a contents
#: list, a table cell) is judged by the block element around the title.
_ITEM_BLOCKS = ("card", "headline")
_BLOCK_TAGS = ("p", "li", "div", "td", "tr", "table")


def _html_places(view: EmailView, title: str) -> list:
    """The blocks of the HTML (the hidden preheader aside) where ``title`` is shown."""
    root = view.root
    body = root.find("body")
    preheader = next(iter(body), None) if body is not None else None
    found = []
    # Only elements holding the title's longest word can show it (squashing changes only
    # whitespace): libxml2 finds them, so a title costs its ancestors, not the whole email.
    word = max(title.split(), key=len, default="")
    holding = root.xpath("//*[contains(., $word)]", word=word)
    for el in holding:
        if view.text_of(el) != title:
            continue
        if any(view.text_of(child) == title for child in el if isinstance(child.tag, str)):
            continue  # an outer element around the same title: the innermost is the place
        chain = list(el.iterancestors())
        if preheader is not None and preheader in chain:
            continue  # the inbox preview line, not a place in the email
        block = next((a for a in chain if set((a.get("class") or "").split()) & set(_ITEM_BLOCKS)), None)
        found.append(block if block is not None else next((a for a in chain if a.tag in _BLOCK_TAGS), el))
    return found


def _text_places(text: str, title: str, others: list[str]) -> list[str]:
    """Each stretch of the (squashed) text part that starts at ``title`` and runs to the
    next item's title, rule (``----``) or heading (``== X ==``)."""
    stops = [t for t in others if t != title and title not in t] + ["----", "== "]
    places, start = [], text.find(title)
    while start >= 0:
        rest = text[start + len(title):]
        end = min([i for i in (rest.find(stop) for stop in stops) if i >= 0], default=len(rest))
        places.append(title + rest[:end])
        start = text.find(title, start + len(title))
    return places


def sponsored_labelled_wherever_shown(view: EmailView, selection=None, config=None) -> Iterator[str]:
    """A sponsored piece is labelled paid, with its payer, amount and form next to it,
    wherever it went, in the HTML and in the text part."""
    plain = view.plain
    if selection is None:
        for headline in by_class(view.root, "headline"):
            shown = squash(headline.text_content())
            if "SPONSORED" in shown.upper() and not re.search(r"Sponsored(:| by) \S", shown):
                yield f"sponsored headline without its payer: {shown!r}"
        return
    titles = [squash(i.title) for i in briefings(selection) + list(selection.related) + list(selection.videos)]
    for item in _sponsored(selection):
        title, facts = squash(item.title), _sponsor_facts(item.sponsor)
        places = _html_places(view, title)
        for place in places:
            missing = _labelled(squash(place.text_content()), facts)
            if missing:
                yield f"sponsored {title!r} shown in the HTML without {', '.join(missing)} next to it"
        stretches = _text_places(plain, title, titles)
        if places and not stretches:
            yield f"sponsored {title!r} is in the HTML but not in the text part"
        for stretch in stretches:
            missing = _labelled(stretch, facts)
            if missing:
                yield f"sponsored {title!r} in the text part without {', '.join(missing)} next to it"
