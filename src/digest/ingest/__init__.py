"""Content ingestion: feeds (RSS 2.0 / Atom, WordPress and YouTube flavours) and folders
of Markdown files -> sanitised, tagged briefings and videos in the store.

Entry points: :func:`ingest_sources` (the configured ``[[sources]]``) and
:func:`ingest_urls` (ad-hoc URLs, feed files and folders). Both return an
:class:`IngestReport` with one :class:`SourceResult` per source.
"""

from .report import IngestReport, SourceResult
from .run import ingest_sources, ingest_urls

__all__ = ["IngestReport", "SourceResult", "ingest_sources", "ingest_urls"]
