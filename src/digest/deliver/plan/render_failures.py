"""What rendering could not do in an edition, as an operator needs to hear it.

Stored text is cleaned where rows enter selection (:mod:`digest.select.candidates`); the
items whose rows needed it are named too (harmless to the email, but the store holds
rows from before ingest cleaned text). A body that fails is rendered again without the items that broke it
(:mod:`digest.render.isolation`); a body that still fails costs only its readers, who are
recorded as skipped with reason ``render-failed``. Planning collects both here
(:class:`RenderProblems`), each item named as the operator knows it (source, guid,
title), for ``digest send`` to print and the worker to log. Once the cause is fixed,
``digest send --retry-failed`` plans those readers again (:func:`forget_render_failures`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ...models import Briefing, Delivery, DeliveryStatus, Source, Video
from ...render.isolation import BRIEFING, VIDEO, LeftOutItem

#: The skip reason of a reader whose body could not be rendered (see SkipReason).
RENDER_FAILED = "render-failed"


@dataclass
class LeftOut:
    """One item left out of the bodies of ``readers`` readers, and why."""

    kind: str  # "briefing" or "video"
    id: int
    title: str
    error: str
    readers: int = 0
    source: str | None = None  # the source's name (or its URL / folder when unnamed)
    guid: str | None = None

    def __str__(self) -> str:
        return (f"{self.kind} {self.guid or self.id} ({self.title!r}) from {self.source or 'no source'}: "
                f"left out of {self.readers} reader(s)' email: {self.error}")


@dataclass
class CleanedItem:
    """An item whose stored text had to be cleaned before it could be rendered."""

    kind: str
    id: int
    guid: str
    title: str  # as cleaned
    source: str | None = None

    def __str__(self) -> str:
        return (f"{self.kind} {self.guid} ({self.title!r}) from {self.source or 'no source'}: its stored text held "
                "characters no email can carry (or was not NFC); cleaned for this edition")


@dataclass
class RenderProblems:
    left_out: dict[tuple[str, int], LeftOut] = field(default_factory=dict)
    failed: Counter = field(default_factory=Counter)  # error -> readers whose body failed with it
    cleaned: dict[tuple[str, int], CleanedItem] = field(default_factory=dict)

    def note(self, left_out: tuple[LeftOutItem, ...], error: str | None, readers: int) -> None:
        """One selection's render, taken for ``readers`` readers."""
        if error is not None:
            self.failed[error] += readers
        for item in left_out:
            known = self.left_out.setdefault((item.kind, item.id), LeftOut(item.kind, item.id, item.title, item.error))
            known.readers += readers

    def note_cleaned(self, items) -> None:
        """Items (kind, id, guid, cleaned title) the selector cleaned."""
        for kind, item_id, guid, title in items:
            self.cleaned.setdefault((kind, item_id), CleanedItem(kind, item_id, guid, title))

    @property
    def partial(self) -> bool:
        """Some readers' email lacks items, or was not rendered at all."""
        return bool(self.left_out or self.failed)

    def __bool__(self) -> bool:
        return bool(self.left_out or self.failed or self.cleaned)

    def name_items(self, session: Session) -> None:
        """Each item's guid and source, read from the store (one query per kind)."""
        for kind, model in ((BRIEFING, Briefing), (VIDEO, Video)):
            ids = {item_id for (k, item_id) in [*self.left_out, *self.cleaned] if k == kind}
            if not ids:
                continue
            rows = session.execute(
                select(model.id, model.guid, Source.name, Source.key)
                .join(Source, Source.id == model.source_id, isouter=True)
                .where(model.id.in_(ids))
            )
            for item_id, guid, name, key in rows:
                for found in (self.left_out.get((kind, item_id)), self.cleaned.get((kind, item_id))):
                    if found is not None:
                        found.guid, found.source = guid, name or key

    def cleaned_lines(self) -> list[str]:
        return [str(item) for item in self.cleaned.values()]

    def lines(self) -> list[str]:
        """What some readers' email lacks."""
        lines = [str(item) for item in self.left_out.values()]
        lines += [f"{readers} reader(s) not sent: their email could not be rendered ({error}); they are recorded "
                  f"as skipped ({RENDER_FAILED}): 'digest send --retry-failed' sends them once the cause is fixed."
                  for error, readers in self.failed.items()]
        return lines


def forget_render_failures(session: Session, edition_id: int) -> int:
    """Delete the edition's ``render-failed`` rows, so the next plan selects and renders
    those readers again (their last digest never moved: they get the same items). The
    operator's explicit choice, like resetting failed batches. Returns how many."""
    removed = session.execute(
        delete(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.SKIPPED,
               Delivery.skip_reason == RENDER_FAILED)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return removed


def render_failed_readers(session: Session, edition, subscriber_ids=None) -> list[int]:
    """Subscriber ids of the edition's ``render-failed`` rows (among ``subscriber_ids``):
    whom ``--retry-failed`` plans again (and only them)."""
    if edition is None or edition.id is None:
        return []
    query = select(Delivery.subscriber_id).where(
        Delivery.edition_id == edition.id, Delivery.status == DeliveryStatus.SKIPPED, Delivery.skip_reason == RENDER_FAILED)
    if subscriber_ids is not None:
        query = query.where(Delivery.subscriber_id.in_(list(subscriber_ids)))
    return list(session.scalars(query.order_by(Delivery.subscriber_id)))


def editions_with_render_failures(session: Session) -> list:
    """Dates of the editions that have ``render-failed`` readers (for ``--retry-failed``
    without a date)."""
    from ...models import Edition

    return list(session.scalars(select(Edition.date).where(Edition.id.in_(
        select(Delivery.edition_id).where(Delivery.status == DeliveryStatus.SKIPPED,
                                          Delivery.skip_reason == RENDER_FAILED))).order_by(Edition.date)))
