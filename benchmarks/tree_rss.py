"""Peak resident memory of a whole process tree, sampled.

``ru_maxrss`` is one process's own peak (``RUSAGE_CHILDREN`` gives the largest single
child's, not their sum), while an edition runs in a tree: the edition process, its fork
server, and the render and send worker processes forked from it. So a thread samples the
tree every :data:`INTERVAL` seconds (psutil: the process and all its descendants) and
keeps the largest sum of their RSS, and of their PSS (proportional set size: a page
shared by n processes counts 1/n in each). Pages a forked worker still shares with its
fork server count once per process in the RSS sum, so that figure is an upper bound; the
PSS sum is the memory the tree holds (Linux; 0 where the platform has no PSS). A peak
shorter than the interval can be missed.

The sampler must not slow what it measures: it shares the machine's cores with the
edition. Reading a process's PSS (``/proc/PID/smaps_rollup``) walks its page tables:
about 20 ms of CPU for an edition's tree of 6 processes, which every 50 ms took a quarter
of a core from a 2-core machine. So each sample reads RSS only (``/proc/PID/statm``, tens
of microseconds), the tree's members are listed again every :data:`MEMBERS_EVERY`
seconds (listing descendants reads every process's ``stat`` on the machine), and PSS is
read when the RSS sum reaches a new peak :data:`PSS_MARGIN` above the RSS sum at the last
PSS reading, at most every :data:`PSS_EVERY` seconds (a peak that comes sooner is read
once that time has passed): the PSS peak is the PSS at (or within half a second of) the
RSS peaks, low by at most about that margin. (With every new RSS peak owed a reading, a
tree whose RSS crept up through a million-reader edition had its PSS read every half
second: 1.1 s of the sampler's CPU on the edition's two cores.) ``cpu_seconds`` says
what the sampler cost.
"""

from __future__ import annotations

import threading
import time

import psutil

INTERVAL = 0.05  # seconds between RSS samples
MEMBERS_EVERY = 0.5  # seconds between listings of the tree's processes
PSS_EVERY = 0.5  # at most one PSS reading (at a new RSS peak) per this many seconds
PSS_MARGIN = 0.02  # a new RSS peak owes a PSS reading when this much above the last read's RSS


def _members(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _sum_rss(members: list[psutil.Process]) -> tuple[int, int]:
    rss, count = 0, 0
    for process in members:
        try:
            rss += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # ended since the listing
        count += 1
    return rss, count


def _sum_rss_pss(members: list[psutil.Process]) -> tuple[int, int, int]:
    rss, pss, count = 0, 0, 0
    for process in members:
        try:
            memory = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += memory.rss
        pss += getattr(memory, "pss", 0)
        count += 1
    return rss, pss, count


def tree_memory(root: psutil.Process) -> tuple[int, int, int]:
    """(bytes of RSS, bytes of PSS, summed over ``root`` and its descendants; how many
    processes)."""
    return _sum_rss_pss(_members(root))


class TreePeak:
    """Samples the tree of ``pid`` on a thread from :meth:`start` to :meth:`stop`."""

    def __init__(self, pid: int, interval: float = INTERVAL) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0  # RSS
        self.peak_pss_bytes = 0
        self.most_processes = 0
        self.cpu_seconds = 0.0  # the sampler thread's own CPU time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)

    def start(self) -> "TreePeak":
        self._thread.start()
        return self

    def _run(self) -> None:
        members: list[psutil.Process] = []
        listed_at = pss_at = float("-inf")
        pss_rss = 0  # the RSS sum when PSS was last read
        pss_owed = False  # a new RSS peak came too soon after the last PSS reading
        while not self._stop.is_set():
            now = time.monotonic()
            if now - listed_at >= MEMBERS_EVERY:
                members, listed_at = _members(self.root), now
            rss, count = _sum_rss(members)
            pss_owed = pss_owed or (rss > self.peak_bytes and rss > pss_rss * (1 + PSS_MARGIN))
            if pss_owed and now - pss_at >= PSS_EVERY:
                rss, pss, count = _sum_rss_pss(members)
                self.peak_pss_bytes = max(self.peak_pss_bytes, pss)
                pss_at, pss_rss, pss_owed = now, rss, False
            self.peak_bytes = max(self.peak_bytes, rss)
            self.most_processes = max(self.most_processes, count)
            self._stop.wait(self.interval)
        self.cpu_seconds = time.thread_time()

    def stop(self) -> tuple[float, float]:
        """The peaks of the RSS and PSS sums in MiB (the unit of the edition process's own
        ``ru_maxrss / 1024``)."""
        self._stop.set()
        self._thread.join()
        return self.peak_bytes / 2**20, self.peak_pss_bytes / 2**20
