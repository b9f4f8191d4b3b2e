"""A worker starts its fork server when it starts (issue 23): a new worker's first tick
waited for the fork server's imports (a second of CPU, 4-5 s on a busy machine) before
its render pool, and so its first batch, could start."""

from __future__ import annotations

from multiprocessing import forkserver

import psutil
import pytest

from digest.deliver.worker_processes import stop_fork_server, uses_fork_server
from digest.runtime import Runtime
from digest.schedule.worker import Worker


def _fork_server_pid() -> int | None:
    pid = forkserver._forkserver._forkserver_pid  # private, as stop_fork_server's use of the server
    return pid if pid is not None and psutil.pid_exists(pid) else None


@pytest.mark.skipif(not uses_fork_server(), reason="workers are spawned where there is no fork server")
@pytest.mark.parametrize("render_processes, started", [("2", True), ("0", False)])
def test_a_worker_that_renders_in_processes_starts_its_fork_server_at_once(make_settings, render_processes, started):
    stop_fork_server()  # whatever an earlier test in this process started
    assert _fork_server_pid() is None
    runtime = Runtime.open(make_settings(DIGEST_RENDER_PROCESSES=render_processes))
    try:
        worker = Worker(runtime)
        worker.provider.close()
    finally:
        runtime.close()
    assert (_fork_server_pid() is not None) is started
    stop_fork_server()
