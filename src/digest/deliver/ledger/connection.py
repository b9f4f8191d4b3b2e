"""A ledger step run again, whole, on a new connection when the database connection is lost."""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_before_delay

from ..providers.retry import RetryPolicy, backoff_wait

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A lost database connection (PostgreSQL restarted or failed over, an administrator ended
#: the session): a few quick tries on a new connection, then the error goes up.
DB_RETRY = RetryPolicy(deadline=30.0, initial_backoff=0.2, max_backoff=5.0, jitter=0.2, max_wait=5.0)


def is_disconnect(exc: BaseException) -> bool:
    """SQLAlchemy's verdict: the driver's error means the connection is gone."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class LedgerConnection:
    """One database connection for a sequence of ledger steps (claim, settle, ...).

    A step that loses the connection is run again, whole, on a new one. That is safe
    because each step is one transaction, committed at its end, and idempotent: if the
    connection died before the commit, the server rolled it back; if it died while the
    commit's answer was on its way, running the step again finds its own work done (see
    ``claim_batch`` and ``settle_batch``). Any other error goes straight up.
    """

    def __init__(self, engine: Engine, *, what: str, policy: RetryPolicy = DB_RETRY):
        self.engine = engine
        self.what = what
        self.policy = policy
        self._conn: Connection | None = None

    def __enter__(self) -> "LedgerConnection":
        return self

    def __exit__(self, *exc) -> None:
        self._drop()

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def run(self, step: Callable[[Connection], T]) -> T:
        retrying = Retrying(
            retry=retry_if_exception(is_disconnect),
            stop=stop_before_delay(self.policy.deadline),
            wait=backoff_wait(self.policy),
            sleep=self.policy.sleep,
            before_sleep=self._log_lost,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                try:
                    return step(self.connection)
                except DBAPIError as exc:
                    if exc.connection_invalidated:
                        self._drop()
                    raise
        raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # a dead connection may fail to close; it is discarded anyway
                pass
            self._conn = None

    def _log_lost(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200] if exc else "?"
        log.warning("%s: lost the database connection (%s); running the step again on a new one in %.2fs",
                    self.what, reason, state.upcoming_sleep)
