"""CSV import and export of the subscriber list.

Columns: ``email,topics,timezone,send_hour,consent_source,consented_at`` (topics as slugs
separated by ``;``); export adds ``status``, which an import honours only to suppress
(so importing an export elsewhere keeps unsubscribed addresses unsubscribed). A bad row is reported with its line number
and reason while the good rows import; a re-import updates, but never resubscribes an
address that unsubscribed, bounced or complained.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from typing import IO, Iterable

from sqlalchemy.orm import Session

from ..models import SubscriberStatus
from ..settings import PublicationConfig
from .registry import (
    SubscriberData, SubscriberError, check_send_hour, check_timezone, iter_subscribers, normalise_email,
    upsert_subscriber,
)

IMPORT_COLUMNS = ("email", "topics", "timezone", "send_hour", "consent_source", "consented_at")
EXPORT_COLUMNS = IMPORT_COLUMNS + ("status",)


@dataclass(frozen=True)
class RowError:
    line: int
    email: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    not_resubscribed: list[str] = field(default_factory=list)  # suppressed addresses left as they are
    errors: list[RowError] = field(default_factory=list)


def parse_datetime(text: str) -> datetime:
    """ISO 8601 date or date-time; a date or a time without offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SubscriberError(f"consented_at must be an ISO 8601 date or date-time, got {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_row(row: dict[str, str | None], config: PublicationConfig) -> SubscriberData:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    if not cell("email"):
        raise SubscriberError("email is empty")
    email = normalise_email(cell("email"))
    slugs = tuple(dict.fromkeys(s.strip().lower() for s in cell("topics").split(";") if s.strip()))
    unknown = [s for s in slugs if s not in config.topic_slugs]
    if unknown:
        raise SubscriberError(f"unknown topic(s) {', '.join(unknown)} (known: {', '.join(config.topic_slugs)})")
    tz = check_timezone(cell("timezone")) if cell("timezone") else config.schedule.default_timezone
    hour = check_send_hour(cell("send_hour")) if cell("send_hour") else config.schedule.default_send_hour
    consented_at = parse_datetime(cell("consented_at")) if cell("consented_at") else None
    status = cell("status").lower() or SubscriberStatus.ACTIVE
    if status not in SubscriberStatus.ALL:
        raise SubscriberError(f"status must be one of {', '.join(SubscriberStatus.ALL)}, got {status!r}")
    return SubscriberData(email, tuple(sorted(slugs)), tz, hour, cell("consent_source") or None, consented_at, status)


def import_csv(session: Session, stream: IO[str], config: PublicationConfig, *, now: datetime | None = None) -> ImportReport:
    reader = csv.DictReader(stream)
    columns = [c.strip() for c in reader.fieldnames or []]
    if "email" not in columns:
        raise SubscriberError(f"the CSV header must name the columns {','.join(IMPORT_COLUMNS)}; got {','.join(columns) or 'nothing'}")
    extra = [c for c in columns if c not in EXPORT_COLUMNS]
    if extra:
        raise SubscriberError(f"unknown CSV column(s) {', '.join(extra)}; expected {','.join(IMPORT_COLUMNS)}")
    reader.fieldnames = columns
    report = ImportReport()
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        raw_email = (row.get("email") or "").strip()
        if None in row:
            report.errors.append(RowError(line, raw_email, "more cells than columns"))
            continue
        try:
            data = parse_row(row, config)
        except SubscriberError as exc:
            report.errors.append(RowError(line, raw_email, str(exc)))
            continue
        if data.email in seen:
            report.errors.append(RowError(line, raw_email, f"same address as line {seen[data.email]}"))
            continue
        seen[data.email] = line
        outcome = upsert_subscriber(session, data, now=now)
        if outcome == "suppressed":
            report.not_resubscribed.append(data.email)
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    value = value.astimezone(timezone.utc)
    if value.time() == time(0):
        return value.date().isoformat()
    return value.isoformat().replace("+00:00", "Z")


def export_rows(session: Session, status: str | None = None) -> Iterable[dict[str, str]]:
    for s in iter_subscribers(session, status):
        yield {
            "email": s.email,
            "topics": ";".join(s.topic_slugs),
            "timezone": s.timezone,
            "send_hour": str(s.send_hour),
            "consent_source": s.consent_source or "",
            "consented_at": _format_datetime(s.consented_at),
            "status": s.status,
        }


def export_csv(session: Session, stream: IO[str], status: str | None = None) -> int:
    writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in export_rows(session, status):
        writer.writerow(row)
        count += 1
    return count
