"""A provider's rate limit reached: no sender's next request before its reset.

SendGrid answers 429 with ``X-RateLimit-Reset`` (the Unix time its limit resets) when the
key's requests for the period are used up; every request before then is refused too, so
every sender of the edition should wait, not only the one that was told. A
:class:`RateLimitPause` holds that time for one provider (all the threads of its process
share the provider) and is waited out before each request (:meth:`RateLimitPause.wait`),
except by the thread that got the 429: its retry waits for the same reset
(:func:`.retry.backoff_wait`), and one wait is enough.

Other processes (the send processes of ``digest send``, Dramatiq workers on other dynos)
learn it through the database, which every sender shares (Redis only the queue runner):
:meth:`extend` hands a new reset to ``share`` (set by the batch layer, which records it on
the edition: :mod:`digest.deliver.ledger.rate_limits`), and each batch's claim reads the
edition's reset back in the same statement, no query of its own, for :meth:`observe`. A
sender that claimed its batch just before another's 429 was recorded may send one request
early; it is refused (429) and waits like the first.

Times are wall-clock Unix seconds (``time.time()``), as SendGrid gives them, so that
processes on other machines compare them alike.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .retry import RetryPolicy

log = logging.getLogger(__name__)


class RateLimitPause:
    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()
        self._told = threading.local()  # .until: the reset this thread's own retry waits for
        #: Called with (reset, edition id) when this process learns a later reset from the
        #: provider's answer; never with one learnt from the others (:meth:`observe`).
        self.share: Callable[[float, int | None], None] | None = None

    @property
    def until(self) -> float:
        return self._until

    def observe(self, until: float | None) -> None:
        """Another sender's reset (read from the ledger)."""
        if until:
            with self._lock:
                self._until = max(self._until, until)

    def extend(self, until: float, edition_id: int | None = None) -> None:
        """This process was told to wait until ``until``: every sender waits, and the
        other processes are told (when it is later than what is known)."""
        self._told.until = until
        with self._lock:
            if until <= self._until:
                return
            self._until = until
            share = self.share
        log.warning("rate limit reached: no request before %s (in %.1fs)",
                    time.strftime("%H:%M:%S", time.gmtime(until)), until - time.time())
        if share is not None:
            try:
                share(until, edition_id)
            except Exception:  # the pause is advice: a sender that was not told gets a 429 itself
                log.exception("could not share the rate-limit reset with the other senders")

    def wait(self, policy: RetryPolicy) -> float:
        """Sleep (with the policy's ``sleep``) until the reset, at most ``max_wait``; the
        seconds that were left."""
        until = self._until
        if until <= getattr(self._told, "until", 0.0):
            return 0.0  # this thread's retry waited for it already
        left = until - time.time()
        if left > 0:
            policy.sleep(min(left, policy.max_wait))
        return max(left, 0.0)
