"""Content rows for selection and preview tests, inserted directly with SQLAlchemy."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Briefing, Subscriber, Topic, Video

#: A fixed "now" for deterministic tests: 27 Nov 2026, 12:00 UTC.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)

_numbers = itertools.count(1)  # module-wide: two seeders in one test never clash on guid


class Seeder:
    """Adds briefings, videos and subscribers with sensible, complete defaults."""

    def __init__(self, session: Session):
        self.session = session
        self._topics = {t.slug: t for t in session.scalars(select(Topic))}

    def topics(self, slugs) -> list[Topic]:
        return [self._topics[s] for s in slugs]

    def briefing(self, *, hours_ago: float = 1, topics=("lithium",), **fields) -> Briefing:
        n = next(_numbers)
        values = dict(
            guid=f"b-{n}",
            url=f"https://ridgeline.example/b/{n}",
            title=f"Briefing {n}",
            body_html=f"<p>Body of briefing {n}.</p>",
            excerpt=f"Excerpt of briefing {n}.",
            author="A. Writer",
            published_at=NOW - timedelta(hours=hours_ago),
            attribution="Information for this briefing was found via a news release.",
            author_disclosure="The author holds no position in the companies named.",
            content_hash=hashlib.sha256(str(n).encode()).hexdigest(),
        )
        values.update(fields)
        row = Briefing(**values, topics=self.topics(topics))
        self.session.add(row)
        self.session.flush()
        return row

    def video(self, *, hours_ago: float = 1, topics=("lithium",), **fields) -> Video:
        n = next(_numbers)
        values = dict(
            guid=f"v-{n}",
            url=f"https://video.example/watch/{n}",
            title=f"Video {n}",
            description=f"About video {n}.",
            thumbnail_url=f"https://video.example/thumb/{n}.jpg",
            published_at=NOW - timedelta(hours=hours_ago),
            content_hash=hashlib.sha256(f"v{n}".encode()).hexdigest(),
        )
        values.update(fields)
        row = Video(**values, topics=self.topics(topics))
        self.session.add(row)
        self.session.flush()
        return row

    def subscriber(self, email: str = "reader@example.com", *, topics=("lithium",), **fields) -> Subscriber:
        row = Subscriber(email=email, topics=self.topics(topics), **fields)
        self.session.add(row)
        self.session.flush()
        return row
