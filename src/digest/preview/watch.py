"""What makes the live preview re-render: template and config files, and the content.

Each change bumps :class:`Version`; the page polls it and reloads its frame. Files are
watched with watchfiles (inotify, no polling); content changes come from other processes
(``digest ingest``), so the database is polled for a cheap fingerprint instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Iterable

from sqlalchemy import func, select
from watchfiles import Change, awatch

from .. import models
from ..runtime import Runtime

log = logging.getLogger(__name__)


class Version:
    """A counter of changes seen, safe to read from request threads."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value

    def bump(self, why: str) -> None:
        with self._lock:
            self._value += 1
        log.info("preview out of date (%s): version %d", why, self._value)


def content_fingerprint(runtime: Runtime) -> tuple:
    """Count and newest ``updated_at`` of briefings, videos and subscribers."""
    with runtime.session() as session:
        return tuple(
            tuple(session.execute(select(func.count(), func.max(model.updated_at)).select_from(model)).one())
            for model in (models.Briefing, models.Video, models.Subscriber)
        )


class FileFilter:
    """Accept changes to anything under the template folders, or to the named files."""

    def __init__(self, folders: Iterable[Path], files: Iterable[Path]):
        self.folders = tuple(p.resolve() for p in folders)
        self.files = frozenset(p.resolve() for p in files)

    def __call__(self, change: Change, path: str) -> bool:
        p = Path(path).resolve()
        return p in self.files or any(p.is_relative_to(f) for f in self.folders)

    @property
    def roots(self) -> list[Path]:
        """What to hand to the watcher: the folders, and the folder of each file."""
        roots = set(self.folders) | {f.parent for f in self.files}
        return sorted(r for r in roots if r.exists())


async def watch_files(file_filter: FileFilter, version: Version, stop: asyncio.Event) -> None:
    async for changes in awatch(*file_filter.roots, watch_filter=file_filter, stop_event=stop, debounce=200):
        names = sorted({Path(p).name for _, p in changes})
        version.bump("changed: " + ", ".join(names))


async def poll_content(runtime: Runtime, version: Version, stop: asyncio.Event, every: float) -> None:
    last = await asyncio.to_thread(content_fingerprint, runtime)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except asyncio.TimeoutError:
            pass
        try:
            current = await asyncio.to_thread(content_fingerprint, runtime)
        except Exception:  # a busy or restarting database should not stop the preview
            log.exception("could not poll the content for changes")
            continue
        if current != last:
            last = current
            version.bump("content changed")
