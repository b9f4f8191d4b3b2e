"""The report of a period, read from the counters only: never the stored events, nor
the delivery table (``sent`` is counted as each batch settles: :func:`.counting.count_sent`).

Rates are shares of what could have done the thing: delivery and hard bounces of the
readers sent to; opens, clicks, unsubscribes and complaints of the readers delivered
to (machine opens are left out of the open rate: see :mod:`.figures`). A rate whose
base is zero is None, not 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Briefing, Edition, EditionCounter, Video
from .figures import (BLOCKED, BOUNCED, CLICKED, CLICKS, COMPLAINED, DEFERRED, DELIVERED, DROPPED, MACHINE_OPENED,
                      OPENED, SENT, TOPIC_FIGURES, UNSUBSCRIBED)
from .guards import active_trip

#: Every figure of an edition, in the order reports show them.
FIGURES = (SENT, DELIVERED, DEFERRED, BOUNCED, BLOCKED, DROPPED, OPENED, MACHINE_OPENED, CLICKED, CLICKS,
           UNSUBSCRIBED, COMPLAINED)
#: rate name -> (figure, base figure)
RATES = {
    "delivery_rate": (DELIVERED, SENT),
    "bounce_rate": (BOUNCED, SENT),
    "open_rate": (OPENED, DELIVERED),
    "click_rate": (CLICKED, DELIVERED),
    "unsubscribe_rate": (UNSUBSCRIBED, DELIVERED),
    "complaint_rate": (COMPLAINED, DELIVERED),
}
TOP_ITEMS = 10


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def rates_of(figures: Counter) -> dict[str, float | None]:
    return {name: rate(figures[part], figures[base]) for name, (part, base) in RATES.items()}


@dataclass
class EditionReport:
    edition_id: int
    date: date
    slot: str
    figures: Counter = field(default_factory=Counter)
    days: dict[date, Counter] = field(default_factory=lambda: defaultdict(Counter))


@dataclass
class ItemClicks:
    url: str
    clicks: int
    title: str | None = None
    kind: str | None = None  # "briefing" | "video" | None (a link that is no item of ours)


@dataclass
class TopicRates:
    topic: str
    figures: Counter


@dataclass
class Report:
    start: date
    end: date
    editions: list[EditionReport]
    top_items: list[ItemClicks]
    topics: list[TopicRates]
    #: Why a guard holds sending now (:mod:`.guards`), or None.
    held: str | None = None
    #: Tracking the config turns off ("open", "click"): figures that are no longer measured.
    untracked: tuple[str, ...] = ()

    @property
    def totals(self) -> Counter:
        total: Counter = Counter()
        for edition in self.editions:
            total.update(edition.figures)
        return total


def read_report(session: Session, start: date, end: date, *, top: int = TOP_ITEMS) -> Report:
    """Editions dated from ``start`` to ``end`` (both included), oldest first."""
    trip = active_trip(session)
    held = trip.reason if trip is not None else None
    editions = {
        row.id: EditionReport(row.id, row.date, row.slot)
        for row in session.execute(select(Edition.id, Edition.date, Edition.slot)
                                   .where(Edition.date.between(start, end)).order_by(Edition.date, Edition.slot))
    }
    ids = list(editions)
    if not ids:
        return Report(start, end, [], [], [], held)
    clicks: Counter[str] = Counter()
    urls: dict[str, str] = {}
    topics: dict[str, Counter] = defaultdict(Counter)
    for edition_id, day, figure, item, url, count in session.execute(
        select(EditionCounter.edition_id, EditionCounter.day, EditionCounter.figure, EditionCounter.item,
               EditionCounter.url, EditionCounter.count).where(EditionCounter.edition_id.in_(ids))
    ):
        edition = editions[edition_id]
        if not item:
            edition.figures[figure] += count
            if figure != SENT:  # days are those of the events; sent counts on the day batches settled
                edition.days[day][figure] += count
        elif item.startswith("url:") and figure == CLICKS:
            clicks[item] += count
            urls[item] = url or ""
        elif item.startswith("topic:") and figure in TOPIC_FIGURES:
            topics[item[len("topic:"):]][figure] += count
    ranked = sorted(clicks.items(), key=lambda pair: (-pair[1], urls[pair[0]]))[:top]
    items = _titled([ItemClicks(urls[key], count) for key, count in ranked], session)
    return Report(start, end, list(editions.values()), items,
                  [TopicRates(slug, figures) for slug, figures in sorted(topics.items())], held)


def _titled(items: list[ItemClicks], session: Session) -> list[ItemClicks]:
    """Each clicked URL traced to the briefing or video it links to."""
    wanted = [item.url for item in items]
    found: dict[str, tuple[str, str]] = {}
    if wanted:
        for url, title in session.execute(select(Video.url, Video.title).where(Video.url.in_(wanted))):
            found[url] = (title, "video")
        for url, title in session.execute(select(Briefing.url, Briefing.title).where(Briefing.url.in_(wanted))):
            found[url] = (title, "briefing")
    for item in items:
        item.title, item.kind = found.get(item.url, (None, None))
    return items


def last_editions_period(session: Session, count: int) -> tuple[date, date] | None:
    """The dates spanning the last ``count`` editions, or None when there are none."""
    dates = session.scalars(select(Edition.date).order_by(Edition.date.desc()).limit(count)).all()
    return (min(dates), max(dates)) if dates else None
