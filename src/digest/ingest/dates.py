"""Feed dates feedparser's own parsers miss, read by python-dateutil.

Registered once with feedparser's documented ``feedparser.registerDateHandler``, so every
``*_parsed`` value feedparser hands back has been through it. feedparser tries the handler
registered last first, so this one runs before its built-in RFC 822 / W3C-DTF / ISO 8601
parsers and has to read what they read the same way (``tests/ingest/test_dates.py`` runs
feedparser's own date test cases through the whole chain). What it adds:

* formats feedparser does not know, such as Drupal's ``Thu, 04/11/2019 - 14:07`` or
  ``November 30, 2026 9:15am``. Numeric dates with a four-digit year last are month first,
  as Drupal and most US sites write them; all-numeric ones with a two-digit year are year
  first (``03-12-31`` is 2003-12-31, as ISO 8601 and feedparser read it), and with a month
  name the order is RFC 822's (``01 Jan 04`` is 1 January 2004);
* zone names beyond feedparser's US ones (``CEST``, ``BST``, ``AEST``, ``IST``...), read from
  the time zone database for the zones in :data:`NAMED_ZONES` (feedparser takes an unknown
  name for UTC, hours off). A name not there makes the date unreadable, never a guess.

A date without a zone is UTC (as feedparser takes one). A string without a whole date (a
lone time, a lone year) is not a date: dateutil would fill the gaps from today.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import feedparser
from dateutil import parser as dateutil_parser
from dateutil import tz as dateutil_tz

#: Zones whose abbreviations (summer and winter) a feed may name. Where two zones share an
#: abbreviation the first listed wins (CST is US Central, not China; IST is India).
NAMED_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Halifax",
    "America/St_Johns", "Europe/London", "Europe/Paris", "Europe/Athens", "Europe/Lisbon",
    "Europe/Moscow", "Asia/Kolkata", "Asia/Tokyo", "Asia/Seoul", "Asia/Hong_Kong",
    "Asia/Singapore", "Australia/Sydney", "Australia/Adelaide", "Australia/Brisbane",
    "Australia/Perth", "Pacific/Auckland", "Africa/Johannesburg",
)
#: ``GMT+3`` means three hours ahead of GMT to whoever writes it; dateutil reads it the
#: POSIX way (three hours behind), so the name is dropped and ``+3`` read as an offset.
_GMT_WITH_OFFSET = re.compile(r"\b(?:GMT|UTC|UT)\s*(?=[+-]\d)", re.I)
#: Two different fillers for the parts a string leaves out: if the answers differ in the
#: date, the string had no whole date of its own.
_FILLERS = (datetime(2000, 1, 1), datetime(2001, 2, 2))
_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")
_A_WORD = re.compile(r"[^\W\d_]{3}")  # a month or day name


class _UnknownZone(ValueError):
    pass


@lru_cache(maxsize=1)
def zone_abbreviations() -> dict[str, timedelta]:
    """Abbreviation (upper case) -> UTC offset, from the zones in :data:`NAMED_ZONES`."""
    found: dict[str, timedelta] = {"UT": timedelta(0), "GMT": timedelta(0), "UTC": timedelta(0), "Z": timedelta(0)}
    year = datetime.now(timezone.utc).year
    for name in NAMED_ZONES:
        zone = ZoneInfo(name)
        for month in (1, 7):
            moment = datetime(year, month, 15, 12, tzinfo=zone)
            abbreviation = moment.tzname()
            if abbreviation and abbreviation[0].isalpha():  # "+03" style names say nothing new
                found.setdefault(abbreviation.upper(), moment.utcoffset())
    return found


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    if name is None and offset is None:
        return None  # no zone in the string
    if offset is not None:
        return dateutil_tz.tzoffset(name, offset)
    known = zone_abbreviations().get(name.upper())
    if known is None:
        raise _UnknownZone(name)
    return dateutil_tz.tzoffset(name, known)


def parse_date(text: str) -> time.struct_time | None:
    """``text`` as a UTC 9-tuple (feedparser's handler contract), or None."""
    if not text or not text.strip():
        return None
    text = _GMT_WITH_OFFSET.sub("", text.strip())
    year_first = not _FOUR_DIGITS.search(text) and not _A_WORD.search(text)
    try:
        first, second = (dateutil_parser.parse(text, default=filler, tzinfos=_zone, yearfirst=year_first)
                         for filler in _FILLERS)
        if first.date() != second.date():
            return None
        if first.tzinfo is None:
            first = first.replace(tzinfo=timezone.utc)
        return first.utctimetuple()
    except (ValueError, OverflowError, TypeError):  # ParserError and _UnknownZone are ValueErrors
        return None


_registered = False


def register() -> None:
    """Add :func:`parse_date` to feedparser's date handlers (once per process)."""
    global _registered
    if not _registered:
        feedparser.registerDateHandler(parse_date)
        _registered = True


register()
