"""Who holds a claim: ``host:pid:start`` of the claiming process, and whether it is still alive.

A batch claimed by a process that is gone may or may not have reached the provider: the
recovery (:mod:`.recovery`) marks it ambiguous. On this host the claimant's pid and kernel
start time say whether that very process still runs; a claim made on another host is
trusted for :data:`DEFAULT_LEASE`.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

#: How long a claim made on another host is trusted before its batch counts as stale.
#: Longer than any provider's retry deadline, so a slow but live sender is not overtaken.
DEFAULT_LEASE = timedelta(minutes=15)


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), to tell a live process
    from a new one that reused its pid. ``None`` where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19]  # field 22 overall: starttime


def worker_identity(pid: int | None = None) -> str:
    """``host:pid:start``, recorded as ``claimed_by`` so a later run can tell whether the
    claimant is still alive."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or '?'}"


@dataclass(frozen=True)
class Claimant:
    host: str
    pid: int
    start: str

    @classmethod
    def parse(cls, claimed_by: str | None) -> "Claimant | None":
        try:
            host, pid, start = (claimed_by or "").rsplit(":", 2)
            return cls(host, int(pid), start)
        except ValueError:
            return None

    def is_alive_here(self) -> bool:
        """On this host: is the very process that claimed still running?"""
        current = _process_start(self.pid)
        if current is not None:
            return self.start == "?" or current == self.start
        if self.start != "?" and Path("/proc/self/stat").exists():
            return False  # /proc works here, and that pid has no entry: gone
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def claim_is_stale(claimed_by: str | None, claimed_at: datetime | None, now: datetime, lease: timedelta) -> bool:
    claimant = Claimant.parse(claimed_by)
    if claimant is not None and claimant.host == socket.gethostname():
        return not claimant.is_alive_here()
    return claimed_at is None or now - claimed_at > lease


