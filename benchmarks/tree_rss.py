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
"""

from __future__ import annotations

import threading

import psutil

INTERVAL = 0.05  # seconds


def tree_memory(root: psutil.Process) -> tuple[int, int, int]:
    """(bytes of RSS, bytes of PSS, summed over ``root`` and its descendants; how many
    processes)."""
    rss, pss, count = 0, 0, 0
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0
    for process in members:
        try:
            memory = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # ended between the listing and the reading
        rss += memory.rss
        pss += getattr(memory, "pss", 0)
        count += 1
    return rss, pss, count


class TreePeak:
    """Samples the tree of ``pid`` on a thread from :meth:`start` to :meth:`stop`."""

    def __init__(self, pid: int, interval: float = INTERVAL) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0  # RSS
        self.peak_pss_bytes = 0
        self.most_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)

    def start(self) -> "TreePeak":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss, count = tree_memory(self.root)
            self.peak_bytes = max(self.peak_bytes, rss)
            self.peak_pss_bytes = max(self.peak_pss_bytes, pss)
            self.most_processes = max(self.most_processes, count)
            self._stop.wait(self.interval)

    def stop(self) -> tuple[float, float]:
        """The peaks of the RSS and PSS sums in MiB (the unit of the edition process's own
        ``ru_maxrss / 1024``)."""
        self._stop.set()
        self._thread.join()
        return self.peak_bytes / 2**20, self.peak_pss_bytes / 2**20
