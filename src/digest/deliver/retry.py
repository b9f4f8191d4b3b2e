"""Backoff with a deadline, shared by the providers (built on tenacity).

Only failures after which *nothing can have been delivered* are retried: the provider
raises :class:`Retryable` for those (connection refused, DNS failure, HTTP 429/5xx) and
anything else straight through. A failure where the request may have arrived (answer
lost) is never retried here; the provider turns it into an ambiguous
:class:`~digest.deliver.provider.ProviderError` instead.

No attempt *starts* after the deadline: when the next wait would end past it, we give
up and raise a transient :class:`ProviderError`, which the ledger records as a failed
batch that is safe to send again later.

The ledger's own steps get the same treatment for a lost database connection
(:class:`LedgerConnection`): the step is run again, whole, on a new connection.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from tenacity import RetryCallState, Retrying, retry_if_exception, retry_if_exception_type, stop_before_delay
from tenacity.wait import wait_exponential, wait_random

from .provider import ProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry one provider call.

    ``deadline``: seconds from the first attempt after which no new attempt starts.
    ``max_wait``: the longest single wait, even when the provider asks for more
    (a rate-limit reset further away than the deadline simply ends the retries).
    ``sleep``: injectable so tests can act between attempts without timing anything.
    """

    deadline: float = 120.0
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    jitter: float = 1.0
    max_wait: float = 120.0
    sleep: Callable[[float], None] = time.sleep


class Retryable(Exception):
    """A failure after which nothing was delivered, so trying again is safe.

    ``retry_after``: seconds the provider asked us to wait (rate-limit reset), if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def backoff_wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential(multiplier=policy.initial_backoff, max=policy.max_backoff) + wait_random(
        0, policy.jitter
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None and exc.retry_after > 0:
            seconds = exc.retry_after  # the provider said when; backing off more only wastes time
        else:
            seconds = backoff(state)
        return min(max(seconds, 0.0), policy.max_wait)

    return wait


def _log_retry(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.2fs",
            what, state.attempt_number, exc, state.upcoming_sleep,
        )

    return before_sleep


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *, what: str) -> T:
    """Call ``fn`` until it returns or raises something other than :class:`Retryable`.

    When the deadline ends the retries, raise a transient :class:`ProviderError`
    naming the number of attempts and the last failure.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(Retryable),
        stop=stop_before_delay(policy.deadline),
        wait=backoff_wait(policy),
        sleep=policy.sleep,
        before_sleep=_log_retry(what),
        reraise=True,
    )
    try:
        return retrying(fn)
    except Retryable as exc:
        attempts = retrying.statistics.get("attempt_number", 1)
        raise ProviderError(
            f"{what}: gave up after {attempts} attempt(s) within the {policy.deadline:g}s deadline; "
            f"last failure: {exc}"
        ) from exc


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
