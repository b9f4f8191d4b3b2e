"""Running ``digest`` as a real process from a test, and waiting for what it does."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest


def digest_command() -> list[str]:
    """The installed ``digest`` script next to this Python, or the module run by it."""
    script = Path(sys.executable).with_name("digest")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from digest.cli import main; main()"]


def wait_for(condition, what: str, limit: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``limit`` s."""
    give_up = time.monotonic() + limit
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)
