"""Peak resident memory of a whole process tree, sampled.

``ru_maxrss`` is one process's own peak (``RUSAGE_CHILDREN`` gives the largest single
child's, not their sum), while an edition runs in a tree: the edition process, its fork
server, and the render and send worker processes forked from it. So a thread samples the
tree every :data:`INTERVAL` seconds (psutil: the process and all its descendants) and
keeps the largest sum of their RSS. Pages a forked worker still shares with its fork
server count once per process, so the figure is an upper bound of the memory used; a
peak shorter than the interval can be missed.
"""

from __future__ import annotations

import threading

import psutil

INTERVAL = 0.05  # seconds


def tree_rss(root: psutil.Process) -> tuple[int, int]:
    """(bytes of RSS summed over ``root`` and its descendants, how many processes)."""
    total, count = 0, 0
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for process in members:
        try:
            total += process.memory_info().rss
            count += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # ended between the listing and the reading
    return total, count


class TreePeak:
    """Samples the tree of ``pid`` on a thread from :meth:`start` to :meth:`stop`."""

    def __init__(self, pid: int, interval: float = INTERVAL) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0
        self.most_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)

    def start(self) -> "TreePeak":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            total, count = tree_rss(self.root)
            self.peak_bytes = max(self.peak_bytes, total)
            self.most_processes = max(self.most_processes, count)
            self._stop.wait(self.interval)

    def stop(self) -> float:
        """The peak in MiB (the unit of the edition process's own ``ru_maxrss / 1024``)."""
        self._stop.set()
        self._thread.join()
        return self.peak_bytes / 2**20
