"""An ASGI app served by uvicorn on a thread, for tests that need a real browser or socket."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

import pytest
import uvicorn


@contextmanager
def live_server(app, port: int, name: str = "server") -> Iterator[None]:
    """Serve ``app`` on 127.0.0.1:``port`` until the block ends; fails the test if it
    does not start within 20 s."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail(f"the {name} did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=20)
