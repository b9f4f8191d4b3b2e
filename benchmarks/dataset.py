"""The benchmark's publication: 12 topics, 300 briefings, 40 videos and N subscribers.

Subscribers look like a real list: a few popular topics, most readers on 1 to 3 of the 12,
spread over 24 time zones (most of them in the Americas and Europe). Everything comes from
a seeded random generator, so two runs (or the two databases of the path test) get the
same data. Subscribers are written with COPY on PostgreSQL and one executemany on SQLite:
this is setup, not part of the edition's time.
"""

from __future__ import annotations

import hashlib
import io
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select, text

from digest.models import Briefing, Topic, Video
from digest.runtime import Runtime

CONFIG_PATH = Path(__file__).resolve().parent / "config.toml"

EDITION_DATE = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
BRIEFINGS = 300
VIDEOS = 40

#: Topic popularity (relative weights), in the config's topic order.
TOPIC_WEIGHTS = {
    "gold": 30, "general": 24, "lithium": 18, "copper": 12, "uranium": 8, "silver": 6,
    "ev-supply-chain": 5, "oil-gas": 4, "rare-earths": 3, "nickel": 2, "potash": 1.5, "crypto-mining": 1,
}
#: How many topics a reader follows (weights): most follow 1 to 3.
TOPIC_COUNT_WEIGHTS = {1: 45, 2: 33, 3: 15, 4: 4, 5: 2, 6: 1}
#: 24 zones with distinct UTC offsets, weighted towards where readers live.
TIME_ZONES = {
    "Pacific/Pago_Pago": 0.2, "Pacific/Honolulu": 0.5, "America/Anchorage": 0.5, "America/Los_Angeles": 9,
    "America/Denver": 4, "America/Chicago": 9, "America/New_York": 20, "America/Halifax": 2,
    "America/Sao_Paulo": 3, "Atlantic/South_Georgia": 0.1, "Atlantic/Azores": 0.2, "Europe/London": 10,
    "Europe/Berlin": 9, "Europe/Athens": 2, "Europe/Moscow": 1, "Asia/Dubai": 1.5, "Asia/Karachi": 1,
    "Asia/Dhaka": 0.5, "Asia/Bangkok": 1, "Asia/Singapore": 3, "Asia/Tokyo": 2, "Australia/Sydney": 4,
    "Pacific/Noumea": 0.3, "Pacific/Auckland": 1.5,
}


def email_for(n: int) -> str:
    return f"reader{n:07d}@bench.example"


def seed_content(runtime: Runtime, *, seed: int = 6) -> None:
    """300 briefings and 40 videos published over the 24 hours before :data:`NOW`."""
    rng = random.Random(seed)
    slugs = list(TOPIC_WEIGHTS)
    weights = list(TOPIC_WEIGHTS.values())
    with runtime.session() as session:
        by_slug = {t.slug: t for t in session.scalars(select(Topic))}

        def topics() -> list[Topic]:
            chosen = {rng.choices(slugs, weights)[0] for _ in range(rng.choice((1, 1, 2)))}
            return [by_slug[s] for s in sorted(chosen)]

        for n in range(BRIEFINGS):
            published = NOW - timedelta(minutes=rng.randrange(5, 24 * 60))
            sponsored = n % 20 == 7
            paragraphs = "".join(
                f"<p>Paragraph {p} of briefing {n}: producers reported output figures, guidance and "
                f"a note on costs for the quarter, with analysts split on the outlook.</p>"
                for p in range(1, 4)
            )
            session.add(Briefing(
                guid=f"bench-briefing-{n}", url=f"https://ridgeline.example/briefings/{n}",
                title=f"Briefing {n}: miners report on the quarter", body_html=paragraphs,
                excerpt=f"Producers reported output figures for the quarter (briefing {n}).",
                author=rng.choice(("A. Writer", "B. Analyst", "C. Reporter")), published_at=published,
                attribution="Information for this briefing was found via company news releases.",
                author_disclosure="The author holds no position in the companies named.",
                is_sponsored=sponsored,
                sponsor_payer="Example Mining Corp." if sponsored else None,
                sponsor_amount="USD 5,000" if sponsored else None,
                sponsor_form="cash" if sponsored else None,
                is_editor_pick=n % 12 == 3,
                content_hash=hashlib.sha256(f"b{n}".encode()).hexdigest(),
                topics=topics(),
            ))
        for n in range(VIDEOS):
            session.add(Video(
                guid=f"bench-video-{n}", url=f"https://videos.ridgeline.example/watch/{n}",
                title=f"Video {n}: a site visit", description=f"A walk around a mine site (video {n}).",
                thumbnail_url=f"https://videos.ridgeline.example/thumbs/{n}.jpg",
                published_at=NOW - timedelta(minutes=rng.randrange(5, 24 * 60)),
                content_hash=hashlib.sha256(f"v{n}".encode()).hexdigest(),
                topics=topics(),
            ))


def subscriber_rows(count: int, topic_ids: dict[str, int], *, seed: int = 6):
    """``(id, email, timezone, last_digest_at, [topic ids])`` for subscribers 1..count."""
    rng = random.Random(seed)
    slugs = list(TOPIC_WEIGHTS)
    weights = list(TOPIC_WEIGHTS.values())
    counts = list(TOPIC_COUNT_WEIGHTS)
    count_weights = list(TOPIC_COUNT_WEIGHTS.values())
    zones = list(TIME_ZONES)
    zone_weights = list(TIME_ZONES.values())
    yesterday = NOW - timedelta(days=1)
    for n in range(1, count + 1):
        wanted = rng.choices(counts, count_weights)[0]
        chosen: set[str] = set()
        while len(chosen) < wanted:
            chosen.add(rng.choices(slugs, weights)[0])
        last = None if rng.random() < 0.1 else yesterday  # a tenth joined since the last edition
        yield n, email_for(n), rng.choices(zones, zone_weights)[0], last, sorted(topic_ids[s] for s in chosen)


def seed_subscribers(runtime: Runtime, count: int, *, seed: int = 6, placement=None) -> None:
    """Insert ``count`` active subscribers with ids 1..count (into an empty table), each in
    the zone :func:`subscriber_rows` draws and at 07:00; ``placement(n)`` gives reader n
    another (zone, send hour) instead (``benchmarks/tick.py``: readers spread evenly)."""
    with runtime.session() as session:
        topic_ids = dict(session.execute(select(Topic.slug, Topic.id)).all())
    created = NOW - timedelta(days=30)
    place = placement or (lambda n, zone: (zone, 7))
    rows = ((sid, email, *place(sid, tz), last, topics)
            for sid, email, tz, last, topics in subscriber_rows(count, topic_ids, seed=seed))
    if runtime.engine.dialect.name == "postgresql":
        _copy_subscribers(runtime, rows, created)
    else:
        _insert_subscribers(runtime, rows, created)


def _copy_subscribers(runtime: Runtime, rows, created: datetime) -> None:
    chunk = 200_000
    with runtime.engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            while True:
                subs, topics = io.StringIO(), io.StringIO()
                n = 0
                for sid, email, tz, hour, last, topic_ids in rows:
                    subs.write(f"{sid}\t{email}\tactive\t{tz}\t{hour}\tbenchmark\t{created.isoformat()}\t"
                               f"{last.isoformat() if last else chr(92) + 'N'}\t{created.isoformat()}\t{created.isoformat()}\n")
                    for tid in topic_ids:
                        topics.write(f"{sid}\t{tid}\n")
                    n += 1
                    if n == chunk:
                        break
                if not n:
                    break
                with cur.copy("COPY subscribers (id, email, status, timezone, send_hour, consent_source, "
                              "consented_at, last_digest_at, created_at, updated_at) FROM STDIN") as copy:
                    copy.write(subs.getvalue())
                with cur.copy("COPY subscriber_topics (subscriber_id, topic_id) FROM STDIN") as copy:
                    copy.write(topics.getvalue())
                if n < chunk:
                    break
            cur.execute("SELECT setval(pg_get_serial_sequence('subscribers', 'id'), "
                        "(SELECT max(id) FROM subscribers))")
            cur.execute("ANALYZE subscribers")
            cur.execute("ANALYZE subscriber_topics")
        raw.commit()


def _insert_subscribers(runtime: Runtime, rows, created: datetime) -> None:
    def stamp(value: datetime | None) -> str | None:
        return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    subs, topics = [], []
    for sid, email, tz, hour, last, topic_ids in rows:
        subs.append((sid, email, "active", tz, hour, "benchmark", stamp(created), stamp(last), stamp(created), stamp(created)))
        topics.extend((sid, tid) for tid in topic_ids)
    with runtime.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO subscribers (id, email, status, timezone, send_hour, consent_source, consented_at, "
            "last_digest_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", subs)
        conn.exec_driver_sql("INSERT INTO subscriber_topics (subscriber_id, topic_id) VALUES (?, ?)", topics)


def count_subscribers(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one()
