"""``Selector``: what each subscriber gets in one edition.

The selector reads the database once (the content of the widest window any active
subscriber needs) and then answers per subscriber from memory. Answers are memoised on
what actually changes them: the reader's topics and *which* candidates fall in their
window (two readers whose last digests were minutes apart, with nothing published in
between, share one answer). Not the reader's time zone: dates are tokens, filled in the
reader's zone per batch. A million-subscriber edition therefore costs a dictionary lookup
and a binary search per subscriber.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Sequence

from sqlalchemy.orm import Session

from .. import models
from ..content import Selection
from ..errors import DigestError
from ..settings import PublicationConfig
from ..subscribers.cadence import window_start
from .candidates import BriefingCandidate, earliest_last_digest, load_briefings, load_videos
from .rules import Reader, choose
from .snapshot import SnapshotItems, snapshot_items, snapshots_around

log = logging.getLogger(__name__)

#: However long ago a subscriber's last digest was, older items are not news any more.
MAX_LOOKBACK = timedelta(days=14)


@dataclass(frozen=True)
class IncompleteItem:
    """A briefing that may not go out: the law or the publisher wants more printed beside it."""

    guid: str
    title: str
    missing: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.guid} ({self.title!r}): missing {', '.join(self.missing)}"


class SelectionBlocked(DigestError):
    """Strict mode: briefings without their disclosures would be in this edition."""

    def __init__(self, items: Sequence[IncompleteItem]):
        self.items = tuple(items)
        lines = "\n  ".join(str(i) for i in self.items)
        super().__init__(
            f"edition blocked (selection.strict = true): {len(self.items)} briefing(s) lack "
            f"required disclosures:\n  {lines}"
        )


#: Distinct (topics, window) questions remembered before starting over (bounds memory).
ASKED_MEMO_SIZE = 100_000


def content_since(session: Session, config: PublicationConfig, now: datetime) -> datetime:
    """Where a selector made at ``now`` loads content from: the oldest window any active
    reader has (their last digest; a new reader's ``new_subscriber_hours``), at most
    :data:`MAX_LOOKBACK` back. One scan of the subscribers (0.1-0.4 s at a million): the
    worker's tick asks once and hands it to each of its plans' selectors."""
    new_subscriber_since = now - timedelta(hours=config.selection.new_subscriber_hours)
    floor = now - max(MAX_LOOKBACK, timedelta(hours=config.selection.new_subscriber_hours))
    earliest = earliest_last_digest(session)
    since = new_subscriber_since if earliest is None else min(earliest, new_subscriber_since)
    return max(since, floor)


class Selector:
    def __init__(self, session: Session, config: PublicationConfig, now: datetime, *,
                 since: datetime | None = None):
        """``since``: :func:`content_since` for ``now``, when the caller already has it."""
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self.config = config
        self.now = now
        self.new_subscriber_since = now - timedelta(hours=config.selection.new_subscriber_hours)
        self.floor = now - max(MAX_LOOKBACK, timedelta(hours=config.selection.new_subscriber_hours))
        self._session = session
        self._loaded_since = content_since(session, config, now) if since is None else since
        self._load(self._loaded_since)
        self._memo: dict[tuple, Selection | SelectionBlocked] = {}
        self._asked: dict[tuple, Selection | SelectionBlocked] = {}  # (topics as given, since, date) -> answer
        # A drafted edition's items (.snapshot), read with the pool for the dates around now.
        self._snapshots: dict[date, SnapshotItems | None] = snapshots_around(session, now.date())

    # ------------------------------------------------------------ loading

    def _load(self, since: datetime) -> None:
        briefings = load_briefings(self._session, since, self.now)
        self._videos = load_videos(self._session, since, self.now)
        self._video_times = [v.published_at for v in self._videos]
        self._briefings: list[BriefingCandidate] = []
        self._incomplete: dict[int, IncompleteItem] = {}
        for c in briefings:
            missing = c.missing_disclosures
            if missing:
                self._incomplete[c.id] = IncompleteItem(c.guid, c.title, missing)
                if not self.config.selection.strict:
                    log.warning("left out of the edition: briefing %s", self._incomplete[c.id])
            self._briefings.append(c)
        self._briefing_times = [c.published_at for c in self._briefings]
        self._cleaned = tuple([("briefing", c.id, c.guid, c.title) for c in briefings if c.cleaned]
                              + [("video", v.id, v.guid, v.title) for v in self._videos if v.cleaned])

    def _ensure_loaded(self, since: datetime) -> None:
        """A preview may ask for an older window than any subscriber needs: load it then."""
        if since < self._loaded_since:
            self._loaded_since = since
            self._load(since)
            self._memo.clear()
            self._asked.clear()

    @property
    def cleaned(self) -> tuple[tuple[str, int, str, str], ...]:
        """(kind, id, guid, cleaned title) of the items in the loaded window whose stored
        text was cleaned on its way here (rows written before ingest cleaned text)."""
        return self._cleaned

    @property
    def incomplete(self) -> tuple[IncompleteItem, ...]:
        """Briefings in the loaded window that lack a required disclosure."""
        return tuple(self._incomplete.values())

    # ------------------------------------------------------------ answers

    def for_subscriber(self, subscriber: models.Subscriber, edition_date: date) -> Selection:
        """Since the reader's window start: their last digest, or the regular send before
        their first digest after a pause (:func:`digest.subscribers.cadence.window_start`)."""
        return self.for_reader(subscriber.topic_slugs, window_start(subscriber), edition_date)

    def for_reader(self, topic_slugs: Sequence[str], last_digest_at: datetime | None, edition_date: date) -> Selection:
        """What a reader of these topics whose window starts at ``last_digest_at`` (their last
        digest, or where they pick up after a pause; None: never sent) gets: all a
        subscriber's selection depends on."""
        return self.for_topics(topic_slugs, edition_date, since=last_digest_at or self.new_subscriber_since)

    def for_topics(
        self,
        topics: Sequence[str],
        edition_date: date,
        *,
        since: datetime | None = None,
    ) -> Selection:
        """The selection for a topic set; topics not in the config are ignored, and an
        empty set means every topic (a reader who chose none gets the whole publication)."""
        since = max(since or self.new_subscriber_since, self.floor)
        # Most readers of a big list share their topics and window: one dict lookup for them
        # (a million readers come through here once each).
        asked = (tuple(topics), since, edition_date)
        answer = self._asked.get(asked)
        if answer is None:
            self._ensure_loaded(since)
            wanted = set(topics)
            all_topics = self.config.topic_slugs
            ordered = tuple(s for s in all_topics if s in wanted) or all_topics
            first_briefing = bisect.bisect_right(self._briefing_times, since)
            first_video = bisect.bisect_right(self._video_times, since)
            key = (ordered, first_briefing, first_video, edition_date)
            answer = self._memo.get(key)
            if answer is None:
                answer = self._compute(ordered, first_briefing, first_video, edition_date)
                self._memo[key] = answer
            if len(self._asked) >= ASKED_MEMO_SIZE:  # windows differ per reader in a long-running list
                self._asked.clear()
            self._asked[asked] = answer
        if isinstance(answer, SelectionBlocked):
            raise SelectionBlocked(answer.items)  # a fresh exception: no shared traceback
        return answer

    def _compute(
        self, topics: tuple[str, ...], first_briefing: int, first_video: int, edition_date: date
    ) -> Selection | SelectionBlocked:
        window = self._briefings[first_briefing:]
        videos = self._videos[first_video:]
        snapshot = self._snapshot(edition_date)
        if snapshot is not None:  # a drafted edition carries its snapshot's items only
            window = [c for c in window if c.id in snapshot.briefing_ids]
            videos = [v for v in videos if v.id in snapshot.video_ids]
        reader = Reader(topics=topics)
        if self._incomplete:
            mine = set(topics)
            # Any briefing this reader could be shown: in their topics, or an editor pick.
            shown = [c for c in window if c.id in self._incomplete and (c.is_editor_pick or mine & set(c.topics))]
            if shown and self.config.selection.strict:
                return SelectionBlocked([self._incomplete[c.id] for c in shown])
            window = [c for c in window if c.id not in self._incomplete]
        return choose(window, videos, reader, self.config, edition_date)

    def _snapshot(self, edition_date: date) -> SnapshotItems | None:
        if edition_date not in self._snapshots:
            self._snapshots[edition_date] = snapshot_items(self._session, edition_date)
        return self._snapshots[edition_date]

    def pool(self) -> tuple[tuple[BriefingCandidate, ...], tuple]:
        """Every briefing and video any reader of an edition made now could be shown (the
        loaded window, up to now): what a snapshot fixes (:mod:`digest.review.snapshot`)."""
        return tuple(self._briefings), tuple(self._videos)
