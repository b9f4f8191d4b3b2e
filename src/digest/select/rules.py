"""The selection rules, as pure functions over the candidates of one reader's window.

No database and no clock here: the selector hands in the candidates published in the
reader's window (already stripped of items that lack their disclosures) and gets back a
:class:`~digest.content.Selection`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Iterable, Sequence

from ..content import BriefingItem, RelatedItem, Selection, TopicSection, VideoItem
from ..date_tokens import date_token
from ..settings import PublicationConfig
from .candidates import BriefingCandidate, VideoCandidate
from .labels import one_line

NOTHING_NEW = "Nothing new in your topics today. We'll be back when there is."


@dataclass(frozen=True)
class Reader:
    """Who a selection is for, as far as the rules care. Not their time zone: dates are
    tokens, filled in the reader's zone when the email is sent."""

    topics: tuple[str, ...]  # the reader's topic slugs, in the config's topic order


def newest_first(items: Iterable[BriefingCandidate | VideoCandidate]) -> list:
    return sorted(items, key=lambda c: (c.published_at, c.id), reverse=True)


def _picks_first(newest: Sequence[BriefingCandidate]) -> list[BriefingCandidate]:
    """Briefings already newest first, editor picks moved ahead (each part keeps its order)."""
    return [c for c in newest if c.is_editor_pick] + [c for c in newest if not c.is_editor_pick]


def _made_once(make):
    """``make(candidate)``, kept on the candidate (a frozen dataclass: set past its
    ``__setattr__``, as :meth:`~digest.content.Selection.fingerprint` is kept): a planner
    asks for the same items in each of the edition's distinct selections (1,786 at a
    million readers), and the item depends on the candidate alone. The selections then
    share the item objects, whose fingerprint text is also made once
    (:func:`digest.content.cached_repr`)."""
    attribute = f"_{make.__name__}"

    def made(c):
        item = c.__dict__.get(attribute)
        if item is None:
            item = make(c)
            object.__setattr__(c, attribute, item)
        return item

    made.__name__, made.__doc__, made.__wrapped__ = make.__name__, make.__doc__, make
    return made


@_made_once
def briefing_item(c: BriefingCandidate) -> BriefingItem:
    return BriefingItem(
        id=c.id,
        url=c.url,
        title=c.title,
        body_html=c.body_html,
        excerpt=c.excerpt,
        author=c.author,
        published_at=c.published_at,
        date_label=date_token(c.published_at),
        topics=c.topics,
        attribution=c.attribution,
        author_disclosure=c.author_disclosure,
        sponsor=c.sponsor,
        is_editor_pick=c.is_editor_pick,
    )


@_made_once
def video_item(c: VideoCandidate) -> VideoItem:
    return VideoItem(
        id=c.id,
        url=c.url,
        title=c.title,
        description=c.description,
        thumbnail_url=c.thumbnail_url,
        published_at=c.published_at,
        date_label=date_token(c.published_at),
        topics=c.topics,
    )


@_made_once
def related_item(c: BriefingCandidate) -> RelatedItem:
    return RelatedItem(
        id=c.id,
        url=c.url,
        title=c.title,
        published_at=c.published_at,
        date_label=date_token(c.published_at),
        excerpt=one_line(c.excerpt or c.body_html),
        sponsor=c.sponsor,
    )


def _sections(
    newest: Sequence[BriefingCandidate], reader: Reader, config: PublicationConfig
) -> tuple[list[tuple[str, list[BriefingCandidate]]], set[int]]:
    """Fill each of the reader's topics in config order from their briefings (``newest``:
    newest first), editor picks first; an item goes to the first topic with room for it,
    so it appears once even when it carries several of the reader's topics."""
    limit = config.selection.max_per_topic
    ranked = _picks_first(newest)
    used: set[int] = set()
    sections = []
    for slug in reader.topics:
        picked = []
        for c in ranked:
            if len(picked) == limit:
                break
            if c.id not in used and slug in c.topics:
                picked.append(c)
                used.add(c.id)
        if picked:
            sections.append((slug, picked))
    return sections, used


def choose(
    briefings: Sequence[BriefingCandidate],
    videos: Sequence[VideoCandidate],
    reader: Reader,
    config: PublicationConfig,
    edition_date: date,
) -> Selection:
    """One reader's selection from the candidates published in their window. The briefings
    are put newest first once: a planner asks this once per distinct selection, 1,786
    times at a million readers, on its own critical path."""
    rules = config.selection
    mine = set(reader.topics)
    newest = newest_first(briefings)
    in_topic = [c for c in newest if mine.intersection(c.topics)]
    sections, used = _sections(in_topic, reader, config)

    leftovers = [c for c in in_topic if c.id not in used]
    outside_picks = [c for c in newest if c.is_editor_pick and not mine.intersection(c.topics)]
    my_videos = [v for v in newest_first(videos) if mine.intersection(v.topics)]

    selection = Selection(
        edition_date=edition_date,
        topics=tuple(sorted(reader.topics)),
        sections=tuple(
            TopicSection(slug, config.topic(slug).title, tuple(briefing_item(c) for c in picked))
            for slug, picked in sections
        ),
        videos=tuple(video_item(v) for v in my_videos[: rules.max_videos]),
        recommended=tuple(briefing_item(c) for c in outside_picks[: rules.max_recommended]),
        related=tuple(related_item(c) for c in leftovers[: rules.max_related]),
    )
    if selection.is_empty and rules.nothing_new == "note":
        selection = replace(selection, note=NOTHING_NEW)
    return selection
