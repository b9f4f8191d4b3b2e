"""Keep the HTML under the size budget (Gmail clips at ~102 KB and would hide the footer).

When a body is too big, the lowest-ranked briefings become related-news headlines, one
at a time from the end of whichever topic section is longest (so every topic keeps its
best pieces), and the body is rendered again. The footer is never cut: it is part of
every candidate. Only when no briefing is left to move are related headlines trimmed,
from the end. The number moved is found by bisection, so a 200-item edition needs about
eight renders rather than a hundred.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

from ..content import BriefingItem, RelatedItem, Selection
from .errors import RenderError

log = logging.getLogger(__name__)

RenderHtml = Callable[[Selection], str]


def html_size(html: str) -> int:
    """Bytes of the decoded HTML, which is what Gmail counts."""
    return len(html.encode("utf-8"))


def demotion_order(selection: Selection) -> list[BriefingItem]:
    """Every briefing, the first to be moved first: the last of the longest section."""
    remaining = [list(section.briefings) for section in selection.sections]
    order: list[BriefingItem] = []
    while any(remaining):
        longest = max(range(len(remaining)), key=lambda i: (len(remaining[i]), i))
        order.append(remaining[longest].pop())
    return order


def as_related(item: BriefingItem) -> RelatedItem:
    return RelatedItem(
        id=item.id,
        url=item.url,
        title=item.title,
        published_at=item.published_at,
        date_label=item.date_label,
        excerpt=item.excerpt,
        sponsor=item.sponsor,  # a demoted sponsored piece stays labelled, with its payer
    )


def demote(selection: Selection, order: list[BriefingItem], count: int) -> Selection:
    """``selection`` with the first ``count`` of ``order`` moved to the related headlines."""
    if count == 0:
        return selection
    moved_ids = {item.id for item in order[:count]}
    sections = tuple(
        replace(section, briefings=tuple(b for b in section.briefings if b.id not in moved_ids))
        for section in selection.sections
    )
    # Moved headlines keep their rank order and come before what never made the cut.
    moved = tuple(as_related(b) for s in selection.sections for b in s.briefings if b.id in moved_ids)
    already = {r.id for r in moved}
    related = moved + tuple(r for r in selection.related if r.id not in already)
    return replace(selection, sections=sections, related=related)


def _fewest_that_fit(count: int, fits: Callable[[int], bool], first_guess: int) -> int | None:
    """The smallest ``k`` in ``[0, count]`` with ``fits(k)``, assuming fits is monotone; None if none."""
    lo, hi = -1, count  # fits(lo) unknown/false, fits(hi) to be checked
    if not fits(hi):
        return None
    guess = min(max(first_guess, 0), count - 1)
    while hi - lo > 1:
        mid = guess if lo < guess < hi else (lo + hi) // 2
        guess = -1
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def fit_to_budget(selection: Selection, render_html: RenderHtml, max_bytes: int) -> tuple[Selection, str]:
    """The selection actually rendered and its HTML, at most ``max_bytes``."""
    html = render_html(selection)
    size = html_size(html)
    if size <= max_bytes:
        return selection, html

    cache: dict[tuple[int, int], str] = {}
    order = demotion_order(selection)

    def candidate(moved: int, trimmed: int) -> Selection:
        demoted = demote(selection, order, moved)
        if trimmed:
            demoted = replace(demoted, related=demoted.related[: len(demoted.related) - trimmed])
        return demoted

    def fits(moved: int, trimmed: int = 0) -> bool:
        if (moved, trimmed) not in cache:
            cache[(moved, trimmed)] = render_html(candidate(moved, trimmed))
        return html_size(cache[(moved, trimmed)]) <= max_bytes

    guess = len(order) - int(len(order) * max_bytes / size)  # bodies grow roughly linearly
    moved = _fewest_that_fit(len(order), fits, guess)
    trimmed = 0
    if moved is None:
        moved = len(order)
        total_related = len(candidate(moved, 0).related)
        found = _fewest_that_fit(total_related, lambda t: fits(moved, t), total_related // 2)
        if found is None:
            raise RenderError(
                f"the email is over its {max_bytes}-byte budget even without any briefing or "
                "related headline: shorten the footer, disclaimer or templates"
            )
        trimmed = found
    log.info(
        "size budget %d bytes: %d bytes with every item; moved %d briefing(s) to related news, "
        "trimmed %d related headline(s); now %d bytes",
        max_bytes, size, moved, trimmed, html_size(cache[(moved, trimmed)]),
    )
    return candidate(moved, trimmed), cache[(moved, trimmed)]
