"""The time-zone picker's choices: the zones people know, grouped by region, each with
its current offset from UTC.

Taken from ``zone.tab`` (the tzdata package's list of each country's zones), so the
backward-compatible aliases (``US/Eastern``, ``Asia/Calcutta``) and the sign-reversed
``Etc/GMT+N`` names are not offered; any IANA name is still accepted when posted
(:func:`digest.web.preferences.timezone_choices`), and a reader's own zone is always shown.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo


@lru_cache(maxsize=1)
def known_zones() -> tuple[str, ...]:
    text = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    zones = {line.split("\t")[2].strip() for line in text.splitlines() if line and not line.startswith("#")}
    return tuple(sorted(zones))


def _offset(zone: str, now: datetime) -> str:
    minutes = int(now.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _label(zone: str, now: datetime) -> str:
    place = zone.split("/", 1)[1] if "/" in zone else zone
    return f"{place.replace('_', ' ').replace('/', ' / ')} ({_offset(zone, now)})"


def zone_groups(current: str | None = None, now: datetime | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(region, [(zone, label), ...]), ...]``: UTC first, then the regions A to Z, places
    A to Z within each; ``current`` is added where it belongs when it is not a known zone."""
    now = now or datetime.now(timezone.utc)
    zones = set(known_zones())
    if current:
        zones.add(current)
    zones.discard("UTC")
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in zones:
        region = zone.split("/", 1)[0] if "/" in zone else "Other"
        groups.setdefault(region, []).append((zone, _label(zone, now)))
    ordered = [("UTC", [("UTC", "UTC (UTC+00:00)")])]
    ordered += [(region, sorted(groups[region], key=lambda item: item[1])) for region in sorted(groups)]
    return ordered
