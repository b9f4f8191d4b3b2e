"""A newcomer's first run: clone, install into a fresh virtual environment, `digest demo`.

The clone is installed with pip, dependencies and all, into a new virtual environment, as
the README's first command does: so the test proves the package declares every dependency
it needs and the wheel carries everything the demo needs (templates, sample content,
migrations). The installation reaches the package index pip is configured with; the demo
then runs in an empty folder with no configuration and an unusable HTTP proxy, so any
network use fails, and must write exactly one email per sample subscriber.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The sample subscribers of the demo (src/digest/samples/subscribers.csv), one email each.
DEMO_SUBSCRIBERS = 8


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.timeout(900)
def test_clone_install_and_demo(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    _run(["git", "clone", "--quiet", str(ROOT), str(clone)])

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", str(clone)], timeout=780)

    workdir = tmp_path / "newcomer"
    workdir.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DIGEST_", "DATABASE_URL", "SENDGRID_", "SMTP_", "REDIS_URL"))
    }
    env.update(HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="")
    result = subprocess.run(
        [str(env_dir / "bin" / "digest"), "demo"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"digest demo failed:\n{result.stdout}\n{result.stderr}"

    emails = sorted((workdir / "outbox").rglob("*.eml"))
    assert len(emails) == DEMO_SUBSCRIBERS, result.stdout
    assert (workdir / "digest.db").exists()
    assert "outbox" in result.stdout
