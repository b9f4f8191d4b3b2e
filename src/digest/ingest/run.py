"""The ingest run: for each source, fetch or read, parse, tag, store, and report.

A source's failure (unreachable, timeout, not a feed, missing folder, even a bug) is
recorded on its row and in the report, and the run goes on with the next source.
Fetching happens outside any database transaction; each source's items and its
conditional-request validators (ETag / Last-Modified) are then stored in one
transaction, so validators never claim content that was not stored.

Items without a date are dated when first seen, except in a source's **first fetch** (its
row has no ``last_fetched_at`` yet: no fetch of it ever stored anything). A feed read for
the first time shows its back catalogue, and undated items there are history, not news:
they are stored dated :data:`~digest.select.MAX_LOOKBACK` before that fetch, the furthest
back any edition looks, so no edition takes them; as they keep their first date, a later
fetch does not make them news either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import select

from ..models import Source as SourceRow
from ..runtime import Runtime, sync_topics
from ..select import MAX_LOOKBACK
from ..settings import SourceConfig
from ..textclean import clean_text
from .drafts import Parsed, Rejection
from .feeds import FeedError, parse_feed
from .fetch import FetchError, fetch, make_client
from .folder import read_folder
from .report import IngestReport, SourceResult
from .refusals import ItemRejected
from .sanitize import safe_http_url
from .storable import ETAG_CHARS, LAST_MODIFIED_CHARS, SOURCE_KEY_CHARS, SOURCE_NAME_CHARS, shorten, storable
from .tagging import Tagger
from .upsert import StoreError, store_items

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where one source's content comes from: an http(s) URL or a local path."""

    label: str
    key: str  # the Source row's key: the URL, or the absolute path
    kind: str | None  # as configured; None for ad-hoc URLs (sniffed from the content)
    url: str | None = None
    path: Path | None = None
    topics: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, source: SourceConfig) -> "Target":
        if source.kind == "folder" or not safe_http_url(source.url):
            path = _local_path(source.path or source.url or "")
            return cls(source.name or str(path), str(path), source.kind, path=path, topics=source.topics)
        label = source.name or redact_url(source.url)
        return cls(label, source.url, source.kind, url=source.url, topics=source.topics)

    @classmethod
    def from_string(cls, location: str) -> "Target":
        if safe_http_url(location):
            return cls(redact_url(location), location, None, url=location)
        path = _local_path(location)
        kind = "folder" if path.is_dir() or path.suffix.lower() == ".md" else None
        return cls(location, str(path), kind, path=path)


def _local_path(location: str) -> Path:
    if location.startswith("file://"):
        location = location[len("file://"):]
    return Path(location).expanduser().resolve()


def redact_url(url: str) -> str:
    """The URL without a password, for logs and the summary (the feed URL may carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def ingest_sources(runtime: Runtime, sources: Sequence[SourceConfig], *, client: httpx.Client | None = None,
                   now: datetime | None = None) -> IngestReport:
    """Ingest configured ``[[sources]]``."""
    return _run(runtime, [Target.from_config(s) for s in sources], client=client, now=now)


def ingest_urls(runtime: Runtime, urls: Sequence[str], *, client: httpx.Client | None = None,
                now: datetime | None = None) -> IngestReport:
    """Ingest ad-hoc feeds: http(s) URLs, local feed files, Markdown files or folders."""
    return _run(runtime, [Target.from_string(u) for u in urls], client=client, now=now)


def _run(runtime: Runtime, targets: list[Target], *, client: httpx.Client | None,
         now: datetime | None) -> IngestReport:
    now = now or datetime.now(timezone.utc)
    report = IngestReport()
    own_client = client is None
    client = client or make_client()
    try:
        for target in targets:
            result = SourceResult(label=target.label, kind=target.kind or "feed")
            try:
                _ingest_one(runtime, target, client, now, result)
            except (FetchError, FeedError, OSError) as exc:
                result.error = str(exc) if not isinstance(exc, OSError) else f"cannot read: {exc}"
            except Exception as exc:  # a bug or a database outage must not stop the other sources
                log.exception("ingest of %s failed unexpectedly", target.label)
                result.error = f"unexpected error: {type(exc).__name__}: {exc}"
            if result.error:
                log.error("source %s failed: %s", target.label, result.error)
                _record_error(runtime, target, result.error)
            report.results.append(result)
    finally:
        if own_client:
            client.close()
    return report


def _source_name(target: Target) -> str:
    return shorten(clean_text(target.label), SOURCE_NAME_CHARS)


def _validator(value: str | None, limit: int) -> str | None:
    """An ETag / Last-Modified the store can keep; a longer one is not kept (the next fetch
    is then unconditional) rather than failing the source on PostgreSQL alone."""
    return value if value is None or len(value) <= limit else None


def _source_row(runtime: Runtime, target: Target) -> tuple[int, str | None, str | None, bool]:
    """Get or create the Source row; return (id, etag, last_modified, first fetch)."""
    if len(target.key) > SOURCE_KEY_CHARS:
        raise FetchError(f"the location is {len(target.key):,} characters, over the {SOURCE_KEY_CHARS:,} "
                         "the store keeps")
    with runtime.session() as session:
        row = session.scalar(select(SourceRow).where(SourceRow.key == target.key))
        if row is None:
            row = SourceRow(key=target.key, name=_source_name(target), kind=target.kind or "rss")
            session.add(row)
            session.flush()
        return row.id, row.etag, row.last_modified, row.last_fetched_at is None


def _read(target: Target, client: httpx.Client, etag: str | None, last_modified: str | None):
    """(Parsed or None when not modified, new etag, new last_modified)."""
    if target.url:
        fetched = fetch(client, target.url, etag=etag, last_modified=last_modified)
        if fetched.not_modified:
            return None, etag, last_modified
        parsed = parse_feed(fetched.content, configured_kind=target.kind,
                            content_type=fetched.content_type)
        return parsed, fetched.etag, fetched.last_modified
    assert target.path is not None
    if not target.path.exists():
        raise FetchError(f"no such file or folder: {target.path}")
    if target.kind == "folder":
        return read_folder(target.path), None, None
    return parse_feed(target.path.read_bytes(), configured_kind=target.kind), None, None


def _ingest_one(runtime: Runtime, target: Target, client: httpx.Client, now: datetime,
                result: SourceResult) -> None:
    source_id, etag, last_modified, first_fetch = _source_row(runtime, target)
    parsed, new_etag, new_last_modified = _read(target, client, etag, last_modified)
    if parsed is None:
        result.not_modified = True
        _record_error(runtime, target, None)
        return
    result.kind = parsed.kind
    result.warnings.extend(parsed.warnings)
    result.rejections.extend(parsed.rejections)
    drafts = _tagged(runtime, target, _storable(parsed, result), result)
    undated_at = now - MAX_LOOKBACK if first_fetch else now

    with runtime.session() as session:
        topics = sync_topics(session, runtime.settings.config)
        for draft, outcome in store_items(session, source_id, drafts, topics, undated_at):
            if isinstance(outcome, StoreError):
                result.rejections.append(Rejection(draft.origin or draft.title, str(outcome), outcome.code))
                continue
            setattr(result, outcome, getattr(result, outcome) + 1)
            result.fallback += draft.fallback_topic
            if draft.published_at is None:
                if outcome == "new":
                    result.history += first_fetch
                    result.undated += not first_fetch
            else:
                result.future += draft.published_at > now
        row = session.get(SourceRow, source_id)
        _set_if_changed(row, etag=_validator(new_etag, ETAG_CHARS),
                        last_modified=_validator(new_last_modified, LAST_MODIFIED_CHARS), kind=parsed.kind,
                        name=_source_name(target), last_error=None, last_fetched_at=now)

    for rejection in result.rejections:
        log.warning("source %s: rejected %r: %s [%s]", target.label, rejection.item, rejection.reason,
                    rejection.code)
    for warning in result.warnings:
        log.warning("source %s: %s", target.label, warning)


def _storable(parsed: Parsed, result: SourceResult):
    """Each draft cleaned and fitted to the store (:mod:`.storable`), or refused."""
    drafts = []
    for draft in parsed.items:
        try:
            draft, notes = storable(draft)
        except ItemRejected as exc:
            result.rejections.append(Rejection(clean_text(draft.origin or draft.title), str(exc), exc.code))
            continue
        result.warnings.extend(notes)
        drafts.append(draft)
    return drafts


def _tagged(runtime: Runtime, target: Target, drafts, result: SourceResult):
    tagger = Tagger(runtime.settings.config, target.topics)
    tagged = []
    for draft in drafts:
        unknown = tagger.unknown(draft.topics)
        if unknown:
            result.rejections.append(Rejection(draft.origin or draft.title, f"unknown topics {unknown}",
                                               "unknown-topic"))
            continue
        tagged.append(tagger.tag(draft))
    return tagged


def _set_if_changed(row: SourceRow, **values) -> None:
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def _record_error(runtime: Runtime, target: Target, error: str | None) -> None:
    """Note (or clear) a source's failure on its row; never raises."""
    try:
        with runtime.session() as session:
            row = session.scalar(select(SourceRow).where(SourceRow.key == target.key))
            error = clean_text(error) if error else error
            if row is not None and row.last_error != error:
                row.last_error = error
    except Exception:  # the database itself may be what failed
        log.exception("could not record the state of source %s", target.label)
