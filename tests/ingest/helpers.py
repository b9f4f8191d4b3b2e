"""Reading the store back in tests."""

from __future__ import annotations

from sqlalchemy import select, text

from digest.models import Briefing, Source, Video

CONTENT_TABLES = ("sources", "briefings", "videos", "briefing_topics", "video_topics")


def snapshot(runtime) -> dict[str, list[tuple]]:
    """Every row of the content tables, to compare before and after a run."""
    with runtime.engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}"))), key=repr) for t in CONTENT_TABLES}


def briefings(runtime) -> dict[str, Briefing]:
    with runtime.session() as session:
        rows = session.scalars(select(Briefing)).all()
        for row in rows:
            _ = row.topics
        return {row.guid: row for row in rows}


def videos(runtime) -> dict[str, Video]:
    with runtime.session() as session:
        rows = session.scalars(select(Video)).all()
        for row in rows:
            _ = row.topics
        return {row.guid: row for row in rows}


def source_row(runtime, key: str) -> Source:
    with runtime.session() as session:
        return session.scalar(select(Source).where(Source.key == key))


def slugs(row) -> list[str]:
    return [t.slug for t in row.topics]


def reasons(result) -> dict[str, str]:
    return {r.item: r.reason for r in result.rejections}
