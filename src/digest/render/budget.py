"""Keep the HTML under the size budget (Gmail clips at ~102 KB and would hide the footer).

When a body is too big, the lowest-ranked briefings become related-news headlines, one
at a time from the end of whichever topic section is longest (so every topic keeps its
best pieces), and the body is rendered again. The footer is never cut: it is part of
every candidate. Only when no briefing is left to move are related headlines trimmed,
from the end. The number moved is found by interpolating the sizes measured (a bisection when
that goes badly), so a 200-item edition needs a few renders rather than a hundred.
"""

from __future__ import annotations

import logging
import math
from dataclasses import fields, replace
from typing import Callable

from ..content import BriefingItem, RelatedItem, Selection
from .errors import RenderError

log = logging.getLogger(__name__)

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
    """The briefing as a headline: a sponsored piece stays labelled, with its payer."""
    return RelatedItem(**{f.name: getattr(item, f.name) for f in fields(RelatedItem)})


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


def _fewest_that_fit(count: int, size_of: Callable[[int], int], limit: int) -> int | None:
    """The smallest ``k`` in ``[1, count]`` with ``size_of(k) <= limit``, None if none;
    ``size_of(0)`` is over the limit and sizes fall as ``k`` grows.

    Each guess is read off the line through the nearest sizes measured (a body shrinks
    about linearly as items move): three to five renders with the first, where a bisection
    took seven or eight. After two guesses running that did not halve the range, a
    bisection step, so it never takes many more than a bisection would."""
    sizes = {0: size_of(0), count + 1: 0}  # count + 1: a stand-in, as if every byte left with the items
    lo, hi, slow = 0, count + 1, 0  # sizes[lo] is over the limit; hi fits (or is the stand-in)
    while hi - lo > 1:
        start = 0 if hi > count and lo > 0 else lo  # nothing fits yet: extrapolate from 0 through lo
        end = lo if start != lo else hi
        per_item = (sizes[start] - sizes[end]) / (end - start)
        guess = start + math.ceil((sizes[start] - limit) / per_item) if per_item > 0 and slow < 2 else (lo + hi) // 2
        k = min(max(guess, lo + 1), hi - 1)
        sizes[k] = size_of(k)
        width = hi - lo
        lo, hi = (lo, k) if sizes[k] <= limit else (k, hi)
        slow = slow + 1 if hi - lo > width // 2 else 0
    return hi if hi <= count else None


def fit_to_budget(selection: Selection, render_html: Callable[[Selection], str], max_bytes: int,
                  html_size: Callable[[str], int] = html_size) -> tuple[Selection, str]:
    """The selection actually rendered and its HTML, at most ``max_bytes`` (as ``html_size``
    counts them: :func:`html_size`'s figure, perhaps known without encoding the HTML)."""
    html = render_html(selection)
    size = html_size(html)
    if size <= max_bytes:
        return selection, html

    rendered: dict[tuple[int, int], str] = {(0, 0): html}
    order = demotion_order(selection)

    def candidate(moved: int, trimmed: int) -> Selection:
        demoted = demote(selection, order, moved)
        if trimmed:
            demoted = replace(demoted, related=demoted.related[: len(demoted.related) - trimmed])
        return demoted

    def size_of(moved: int, trimmed: int = 0) -> int:
        if (moved, trimmed) not in rendered:
            rendered[(moved, trimmed)] = render_html(candidate(moved, trimmed))
        return html_size(rendered[(moved, trimmed)])

    moved = _fewest_that_fit(len(order), size_of, max_bytes)
    trimmed = 0
    if moved is None:
        moved = len(order)
        total_related = len(candidate(moved, 0).related)
        found = _fewest_that_fit(total_related, lambda t: size_of(moved, t), max_bytes)
        if found is None:
            raise RenderError(
                f"the email is over its {max_bytes}-byte budget even without any briefing or "
                "related headline: shorten the footer, disclaimer or templates"
            )
        trimmed = found
    log.info(
        "size budget %d bytes: %d bytes with every item; moved %d briefing(s) to related news, "
        "trimmed %d related headline(s); now %d bytes",
        max_bytes, size, moved, trimmed, html_size(rendered[(moved, trimmed)]),
    )
    return candidate(moved, trimmed), rendered[(moved, trimmed)]
