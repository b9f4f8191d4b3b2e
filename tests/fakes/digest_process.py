"""Running the real ``digest`` command in a subprocess, on a chosen ``DATABASE_URL``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from digest.settings import bundled_config_path

from .commands import digest_command


def digest_env(database_url: str, **extra: str) -> dict[str, str]:
    """This environment without our own settings, plus the bundled config and a secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_", "DATABASE_"))}
    env.update(DATABASE_URL=database_url, DIGEST_CONFIG=str(bundled_config_path()),
               DIGEST_SECRET_KEY="test-secret-key-0123456789", **extra)
    return env


def start_digest(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """``digest ARGS`` with stdout and stderr piped (text)."""
    return subprocess.Popen([*digest_command(), *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def launch_logged(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``digest ARGS`` (a long-running one) with both streams going to ``log_path``."""
    with open(log_path, "w") as log:
        return subprocess.Popen([*digest_command(), *args], env={**env, "PYTHONUNBUFFERED": "1"},
                                cwd=log_path.parent, stdout=log, stderr=subprocess.STDOUT)
