"""Backoff with a deadline, shared by the providers (built on tenacity).

Only failures after which *nothing can have been delivered* are retried: the provider
raises :class:`Retryable` for those (connection refused, DNS failure, HTTP 429/5xx) and
anything else straight through. A failure where the request may have arrived (answer
lost) is never retried here; the provider turns it into an ambiguous
:class:`~digest.deliver.providers.base.ProviderError` instead.

No attempt *starts* after the deadline: when the next wait would end past it, we give
up and raise a transient :class:`ProviderError`, which the ledger records as a failed
batch that is safe to send again later.

The ledger's own steps use the same backoff for a lost database connection
(:class:`digest.deliver.ledger.connection.LedgerConnection`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_before_delay
from tenacity.wait import wait_exponential, wait_random

from .base import ProviderError

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
