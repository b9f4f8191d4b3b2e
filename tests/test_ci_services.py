"""Under ``CI=true`` a test that needs PostgreSQL fails when it is down (locally it is
skipped with a message): shown on one of the production-path tests, in a pytest run of
its own pointed at a port nothing listens on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/deliver/test_send_processes.py::test_worker_processes_send_every_batch_once[postgresql]"
NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:9/test"  # the discard port: nothing answers


def _run(ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": ci, "DIGEST_TEST_POSTGRES_URL": NOWHERE}
    return subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider", TEST],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("ci, code, outcome", [("true", 1, "1 error"), ("", 0, "1 skipped")])
def test_postgresql_down_fails_under_ci_and_skips_locally(ci, code, outcome):
    result = _run(ci)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert outcome in output and "PostgreSQL is not reachable on 127.0.0.1:9" in output, output
