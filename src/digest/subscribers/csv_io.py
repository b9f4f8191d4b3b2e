"""CSV import and export of the subscriber list.

Columns: ``email,topics,timezone,send_hour,consent_source,consented_at`` (topics as slugs
separated by ``;``) and, optionally, ``frequency,weekday,paused_until`` (``daily`` or
``weekly``; ``mon`` .. ``sun`` or the full name; ``YYYY-MM-DD``: see
:mod:`.cadence`); export adds ``status``, which an import honours only to suppress
(so importing an export elsewhere keeps unsubscribed addresses unsubscribed). Without a
``frequency`` column an import leaves each existing reader's frequency and pause as they
are (new ones are daily); ``weekday`` and ``paused_until`` need it beside them.

Every line states its basis of consent: the header must name ``consent_source`` and no
line may leave it empty (a file-wide basis, should one be added, belongs in
:func:`_consent_source`, not in a silent default). A bad line (see :mod:`.csv_lines`) is
reported with its line number and reason while the good lines import; a header that
cannot be used stops the import before anything is written. A re-import updates, but
never resubscribes an address that unsubscribed, bounced or complained.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from typing import IO, Iterable, Iterator

from sqlalchemy.orm import Session

from ..models import ConsentEvent, Subscriber, SubscriberStatus
from .cadence import CadenceError, parse_cadence
from .consent import Evidence, record_consent
from ..settings import PublicationConfig
from .csv_lines import CsvLine, LineError, check_cell_count, read_lines
from .forget import is_forgotten
from .registry import (
    SubscriberData, SubscriberError, check_send_hour, check_timezone, find, iter_subscribers, normalise_email,
    upsert_subscriber,
)

CORE_COLUMNS = ("email", "topics", "timezone", "send_hour", "consent_source", "consented_at")
CADENCE_COLUMNS = ("frequency", "weekday", "paused_until")  # optional
IMPORT_COLUMNS = CORE_COLUMNS + CADENCE_COLUMNS
EXPORT_COLUMNS = IMPORT_COLUMNS + ("status",)
#: Without these a line says neither who nor on what basis of consent.
REQUIRED_COLUMNS = ("email", "consent_source")


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


#: Longest consent_source the store keeps (the same on SQLite and PostgreSQL).
CONSENT_SOURCE_LENGTH = Subscriber.__table__.c.consent_source.type.length


def parse_row(row: dict[str, str], config: PublicationConfig, consent: str | None = None) -> SubscriberData:
    """One line's values; ``consent`` is the basis of consent of lines that name none."""
    def cell(name: str) -> str:
        return row.get(name) or ""

    if not cell("email"):
        raise SubscriberError("email is empty")
    email = normalise_email(cell("email"))
    consent_source = _consent_source(cell("consent_source") or consent or "")
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
    cadence = None
    if "frequency" in row:
        try:
            cadence = parse_cadence(cell("frequency"), cell("weekday"), cell("paused_until"))
        except CadenceError as exc:
            raise SubscriberError(str(exc)) from None
    return SubscriberData(email, tuple(sorted(slugs)), tz, hour, consent_source, consented_at, status, cadence)


def _consent_source(text: str) -> str:
    """The basis of consent is required on every line: a list without it cannot be mailed."""
    if not text:
        raise SubscriberError("consent_source is empty (say where this reader gave consent, e.g. 'signup form')")
    if len(text) > CONSENT_SOURCE_LENGTH:
        raise SubscriberError(f"consent_source is longer than {CONSENT_SOURCE_LENGTH} characters")
    return text


def read_header(lines: Iterator[CsvLine], required: tuple[str, ...] = REQUIRED_COLUMNS) -> tuple[str, ...]:
    """The header's column names; a header that cannot be used stops the whole import."""
    header = next(lines, None)
    if header is None:
        raise SubscriberError(f"the file is empty; its first line must name the columns {','.join(CORE_COLUMNS)}")
    if header.error:
        raise SubscriberError(f"line {header.number} (the header): {header.error}")
    columns = header.cells
    missing = [c for c in required if c not in columns]
    if missing:
        raise SubscriberError(f"the CSV header must name the columns {','.join(CORE_COLUMNS)}; "
                              f"{' and '.join(missing)} missing from {','.join(columns)}")
    extra = [c for c in columns if c not in EXPORT_COLUMNS]
    if extra:
        raise SubscriberError(f"unknown CSV column(s) {', '.join(extra)}; expected {','.join(CORE_COLUMNS)} "
                              f"(and, optionally, {','.join(CADENCE_COLUMNS)},status)")
    alone = [c for c in ("weekday", "paused_until") if c in columns and "frequency" not in columns]
    if alone:
        raise SubscriberError(f"the CSV column(s) {', '.join(alone)} need the frequency column beside them")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise SubscriberError(f"CSV column(s) named twice: {', '.join(repeated)}")
    return columns


def import_csv(session: Session, stream: IO[bytes], config: PublicationConfig, *,
               now: datetime | None = None, secret: str | None = None, consent: str | None = None,
               source: str | None = None) -> ImportReport:
    """Import a CSV file opened in binary mode (each line is decoded on its own, so one
    line of invalid UTF-8 costs that line only). Raises :class:`SubscriberError` when the
    header cannot be used; every other bad line is in the report's ``errors``. With the
    ``secret`` (``DIGEST_SECRET_KEY``), an address whose reader was forgotten is not
    imported (counted with the suppressed ones). ``consent``: the basis of consent of the
    whole file (then the ``consent_source`` column may be left out or empty). Each line
    added or updated gets a consent record naming the file (``source``) and its basis."""
    lines = read_lines(stream)
    columns = read_header(lines, ("email",) if consent else REQUIRED_COLUMNS)
    report = ImportReport()
    seen: dict[str, int] = {}
    for line in lines:
        try:
            if line.error:
                raise LineError(line.error)
            check_cell_count(line.cells, columns)
            data = parse_row(dict(zip(columns, line.cells)), config, consent)
        except (LineError, SubscriberError) as exc:
            report.errors.append(RowError(line.number, _first_cell(line), str(exc)))
            continue
        if data.email in seen:
            report.errors.append(RowError(line.number, data.email, f"same address as line {seen[data.email]}"))
            continue
        seen[data.email] = line.number
        if secret is not None and find(session, data.email) is None and is_forgotten(session, secret, data.email):
            report.not_resubscribed.append(data.email)
            continue
        outcome = upsert_subscriber(session, data, now=now)
        if outcome == "suppressed":
            report.not_resubscribed.append(data.email)
        else:
            if outcome in ("created", "updated"):
                record_consent(session, find(session, data.email).id, ConsentEvent.IMPORT,
                               Evidence(source=source, wording=data.consent_source), at=data.consented_at or now)
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _first_cell(line: CsvLine) -> str:
    return line.cells[0] if line.cells else ""


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
            "frequency": s.frequency,
            "weekday": s.weekday or "",
            "paused_until": s.paused_until.isoformat() if s.paused_until else "",
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
