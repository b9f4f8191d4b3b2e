"""A ledger step run again, whole, on a new connection when the database connection is lost."""

from __future__ import annotations

import logging
import threading
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

    def end_transaction(self) -> None:
        """Nothing left open on the connection for the next user of it: a transaction a
        step left (it raised) is rolled back, or the connection let go if that fails."""
        if self._conn is not None and self._conn.in_transaction():
            try:
                self._conn.rollback()
            except Exception:
                self._drop()

    def close(self) -> None:
        self._drop()

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


class ThreadLedgers:
    """A :class:`LedgerConnection` for each thread that sends batches, kept from one batch
    to the next while a runner runs, and closed together once its threads are done.

    A connection taken from the pool for every batch cost the pool's check of it (a
    round trip to the server, ``pool_pre_ping``) and its checkout and return: about 4% of
    a send worker's CPU. Kept, it is checked by use: a step that finds it lost reconnects
    and runs again (:meth:`LedgerConnection.run`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[LedgerConnection] = []

    def for_this_thread(self) -> LedgerConnection:
        ledger = getattr(self._local, "ledger", None)
        if ledger is None:
            ledger = self._local.ledger = LedgerConnection(self.engine, what="sending thread")
            with self._lock:
                self._all.append(ledger)
        return ledger

    def close(self) -> None:
        """Only once no thread uses its connection any more."""
        with self._lock:
            ledgers, self._all = self._all, []
        for ledger in ledgers:
            ledger.close()
