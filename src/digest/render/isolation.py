"""A body that fails to render costs the items that broke it, not its readers.

Text is cleaned at ingest and again where stored rows enter selection, yet a body can
still fail (a template error one item's data triggers, a character no rule knows yet).
:class:`IsolatingRenderer` then renders each item of the selection alone, leaves out
the items that fail alone, and renders the rest. When that still fails (or no item fails
alone: the template's fault, or a combination's), the body has failed and its error is
returned: planning records that body's readers as skipped (``render-failed``) and every
other reader gets theirs.

What it does not isolate: :class:`~digest.render.errors.DisclosureMissing` (strict mode
blocks the edition instead of leaving the item out), and errors that are not the
render's (a renderer that cannot be built, a worker process that died).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from ..content import BriefingItem, RelatedItem, RenderedEmail, Selection, TopicSection, VideoItem
from ..errors import DigestError
from .errors import DisclosureMissing

log = logging.getLogger(__name__)

#: Items already rendered alone in this process, and how that went (the same item is in
#: many of an edition's bodies).
VERDICT_CACHE_SIZE = 4096

BRIEFING = "briefing"
VIDEO = "video"

Item = BriefingItem | VideoItem | RelatedItem


@dataclass(frozen=True)
class LeftOutItem:
    """An item left out of a body because it could not be rendered."""

    kind: str  # BRIEFING (briefings table: cards, picks, related headlines) or VIDEO
    id: int
    title: str
    error: str


@dataclass(frozen=True)
class RenderOutcome:
    """A body (``rendered``), with the items it had to leave out; or, when even that
    failed, no body and the ``error``."""

    rendered: RenderedEmail | None
    left_out: tuple[LeftOutItem, ...] = ()
    error: str | None = None


def describe(exc: BaseException) -> str:
    """One line for an operator: our own errors say what failed; others add their type."""
    text = " ".join(str(exc).split())
    return text if isinstance(exc, DigestError) else f"{type(exc).__name__}: {text}"


def _kind(item: Item) -> str:
    return VIDEO if isinstance(item, VideoItem) else BRIEFING


def _items(selection: Selection) -> list[tuple[Item, Selection]]:
    """Every item of the selection, each with a selection holding only it (same date,
    topics and note, the item in the same place)."""
    alone = replace(selection, sections=(), videos=(), recommended=(), related=())
    found: list[tuple[Item, Selection]] = []
    for section in selection.sections:
        for item in section.briefings:
            found.append((item, replace(alone, sections=(TopicSection(section.slug, section.title, (item,)),))))
    found += [(item, replace(alone, recommended=(item,))) for item in selection.recommended]
    found += [(item, replace(alone, videos=(item,))) for item in selection.videos]
    found += [(item, replace(alone, related=(item,))) for item in selection.related]
    return found


def without(selection: Selection, left_out: set[tuple[str, int]]) -> Selection:
    """``selection`` without the items whose (kind, id) is in ``left_out``."""

    def keep(item: Item) -> bool:
        return (_kind(item), item.id) not in left_out

    sections = tuple(replace(s, briefings=tuple(filter(keep, s.briefings))) for s in selection.sections)
    return replace(selection, sections=tuple(s for s in sections if s.briefings),
                   recommended=tuple(filter(keep, selection.recommended)),
                   videos=tuple(filter(keep, selection.videos)), related=tuple(filter(keep, selection.related)))


class IsolatingRenderer:
    """Wraps a renderer (anything with ``render(selection) -> RenderedEmail``)."""

    def __init__(self, renderer) -> None:
        self.renderer = renderer
        self._verdicts: dict[Item, str] = {}  # item -> its error alone, or "" when it renders

    def render(self, selection: Selection) -> RenderOutcome:
        rendered, error = self._attempt(selection)
        if rendered is not None:
            return RenderOutcome(rendered)
        left_out = [LeftOutItem(_kind(item), item.id, item.title, failure)
                    for item, alone in _items(selection) if (failure := self._fails_alone(item, alone))]
        if left_out:
            rendered, error = self._attempt(without(selection, {(i.kind, i.id) for i in left_out}))
            if rendered is not None:
                return RenderOutcome(rendered, tuple(left_out))
        log.info("a body could not be rendered: %s", error)
        return RenderOutcome(None, error=error)

    def _attempt(self, selection: Selection) -> tuple[RenderedEmail | None, str]:
        """The body, or None and what broke it (strict mode's DisclosureMissing is raised)."""
        try:
            return self.renderer.render(selection), ""
        except DisclosureMissing:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever broke it is isolated by the caller
            return None, describe(exc)

    def _fails_alone(self, item: Item, alone: Selection) -> str:
        """The error this item's selection alone raises ("" when it renders)."""
        verdict = self._verdicts.get(item)
        if verdict is None:
            verdict = self._attempt(alone)[1]
            if len(self._verdicts) >= VERDICT_CACHE_SIZE:
                self._verdicts.clear()  # bounded; a new edition's items start afresh
            self._verdicts[item] = verdict
        return verdict
