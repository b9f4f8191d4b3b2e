"""Running real ``digest worker`` processes from a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from sqlalchemy import create_engine, func, select

from digest.models import Batch, Delivery

from fakes.fixtures import TEST_API_KEY

_RUN = "import sys; from digest.cli import main; sys.exit(main())"


def worker_env(tmp_path: Path, database_url: str, config_path: Path, sendgrid_url: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_")) and k != "REDIS_URL"}
    env.update({
        "DIGEST_CONFIG": str(config_path),
        "DATABASE_URL": database_url,
        "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
        "DIGEST_BASE_URL": "https://digest.test",
        "DIGEST_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": TEST_API_KEY,
        "SENDGRID_API_HOST": sendgrid_url,
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class WorkerProcess:
    def __init__(self, env: dict, log_path: Path, *args: str):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-c", _RUN, "worker", *args], env=env,
                                     cwd=log_path.parent, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate_and_wait(self, timeout: float) -> int | None:
        """SIGTERM, then the exit status (None if it did not exit within ``timeout``)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Ledger:
    """Reads the ledger of a database other processes write to."""

    def __init__(self, url: str):
        self.engine = create_engine(url)

    def batches(self) -> Counter:
        with self.engine.connect() as conn:
            return Counter(dict(conn.execute(select(Batch.status, func.count()).group_by(Batch.status)).all()))

    def deliveries(self) -> Counter:
        with self.engine.connect() as conn:
            return Counter(dict(conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()))

    def close(self) -> None:
        self.engine.dispose()
