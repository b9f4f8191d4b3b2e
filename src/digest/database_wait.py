"""The worker and web processes wait for a database that is away instead of exiting.

On a dyno a process that exits is started again at once: a database down for maintenance
(or a host that refuses) would make the worker and web crash-loop with a traceback each
time. So they start without the database, log one line saying which database and why,
retry with backoff (1 s, doubling up to 30 s; a new line only when the reason changes),
and go on once it answers. Meanwhile the web process answers ``/healthz`` with 503.
One-shot commands (``status``, ``send``, ...) do not wait: they print the same line and
exit 2.
"""

from __future__ import annotations

import logging
import threading

from .database_url import describe_unreachable
from .db import UNREACHABLE, DatabaseUnavailable, SchemaOutOfDate
from .errors import DigestError
from .runtime import Runtime

log = logging.getLogger(__name__)

FIRST_DELAY = 1.0
MAX_DELAY = 30.0


def wait_for_database(runtime: Runtime, stop: threading.Event, *, first_delay: float = FIRST_DELAY,
                      max_delay: float = MAX_DELAY) -> bool:
    """Prepare ``runtime`` (:meth:`Runtime.prepare`), retrying while the database is
    away. True once it is ready; False when ``stop`` was set first."""
    delay, attempts, last_reason = first_delay, 0, None
    while not stop.is_set():
        attempts += 1
        try:
            runtime.prepare()
        except (DatabaseUnavailable, SchemaOutOfDate, *UNREACHABLE) as exc:  # each ends without a restart
            reason = str(exc) if isinstance(exc, DigestError) else describe_unreachable(runtime.engine.url, exc)
            if reason != last_reason:
                log.warning("%s; retrying with backoff (up to every %.0f s) until it answers", reason, max_delay)
                last_reason = reason
            stop.wait(delay)
            delay = min(delay * 2, max_delay)
            continue
        if attempts > 1:
            log.warning("database reachable again after %d attempts: starting", attempts)
        return True
    return False


def prepare_in_background(runtime: Runtime, stop: threading.Event) -> threading.Thread:
    """:func:`wait_for_database` on a daemon thread (the web process serves meanwhile)."""

    def wait() -> None:
        try:
            wait_for_database(runtime, stop)
        except Exception:  # a bug, not the database: /healthz stays 503 and says so in the log
            log.exception("preparing the database failed; /healthz answers 503")

    thread = threading.Thread(target=wait, name="database-wait", daemon=True)
    thread.start()
    return thread
