"""``digest demo``: the whole flow on the bundled sample publication, offline.

sample folders -> ingest -> SQLite -> sample subscribers -> today's edition -> outbox.

The sample briefings carry fixed publication dates; a demo run on any later day would
find nothing "published since the last digest". So the demo moves the sample items'
dates (only those from the bundled sample folders) so that the newest is an hour old,
keeping their spacing. Nothing else in the system knows about this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from .deliver.edition import send_edition
from .deliver.providers.factory import make_provider
from .deliver.summary import EditionSummary
from .ingest import IngestReport, ingest_sources
from .models import Briefing, Source, Video
from .paths import samples_dir
from .runtime import Runtime
from .subscribers.csv_io import ImportReport, import_csv


@dataclass
class DemoReport:
    ingest: IngestReport
    subscribers: ImportReport
    edition: EditionSummary
    outbox: Path | None


def rebase_sample_dates(runtime: Runtime, source_keys: list[str], now: datetime) -> timedelta:
    """Shift the items of the given sources so the newest was published an hour ago."""
    with runtime.session() as session:
        source_ids = list(session.scalars(select(Source.id).where(Source.key.in_(source_keys))))
        if not source_ids:
            return timedelta(0)
        newest = max(
            (session.scalar(select(func.max(model.published_at)).where(model.source_id.in_(source_ids)))
             for model in (Briefing, Video)),
            key=lambda value: value or datetime.min.replace(tzinfo=timezone.utc),
        )
        if newest is None:
            return timedelta(0)
        shift = (now - timedelta(hours=1)) - newest
        for model in (Briefing, Video):
            rows = session.execute(
                select(model.id, model.published_at).where(model.source_id.in_(source_ids))
            ).all()
            for row_id, published in rows:
                session.execute(update(model).where(model.id == row_id).values(published_at=published + shift))
        return shift


def run_demo(runtime: Runtime, *, now: datetime | None = None) -> DemoReport:
    settings = runtime.settings
    now = now or datetime.now(timezone.utc)
    sources = settings.config.sources
    ingest = ingest_sources(runtime, sources, now=now)
    rebase_sample_dates(runtime, [s.path for s in sources if s.kind == "folder" and s.path], now)

    with runtime.session() as session, (samples_dir() / "subscribers.csv").open("rb") as stream:
        imported = import_csv(session, stream, settings.config, now=now)

    today: date = now.astimezone(ZoneInfo(settings.config.schedule.default_timezone)).date()
    provider = make_provider(settings)
    try:
        edition = send_edition(runtime, provider, today, now=now)
    finally:
        provider.close()
    outbox = settings.outbox_dir.resolve() if settings.provider == "outbox" else None
    return DemoReport(ingest, imported, edition, outbox)
