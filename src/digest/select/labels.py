"""How dates and excerpts are shown to a reader: small, locale-independent helpers."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import lru_cache
from html import unescape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

# Spelled out rather than strftime("%b"), which follows the process locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"\s+")

EXCERPT_CHARS = 160


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The reader's zone; an unknown name falls back to UTC (logged once), never fails a send."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: showing dates in UTC", name)
        return ZoneInfo("UTC")


def date_label(moment: datetime, tz: ZoneInfo) -> str:
    """``27 Nov 2026``: the local calendar date of an aware datetime."""
    local = moment.astimezone(tz)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def one_line(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Plain text on one line, cut at a word boundary with an ellipsis when too long."""
    plain = _SPACE_RE.sub(" ", unescape(_TAG_RE.sub(" ", text))).strip()
    if len(plain) <= limit:
        return plain
    cut = plain[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"
