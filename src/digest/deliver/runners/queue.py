"""Batches sent by any ``digest worker`` process, through Dramatiq on Redis (``REDIS_URL``).

The scheduling worker's tick enqueues one ``send_batch`` message per pending batch
(:meth:`QueueRunner.outcomes`: the outcomes are the consumers', so it yields none), and
every worker process consumes them, so an edition is shared by as many worker dynos as
are running. Each message's batch goes through :func:`~digest.deliver.batch.send_batch`
like every other path. The stop rule is Dramatiq's worker stop: fetch nothing more, let
batches in flight finish (up to the timeout), give the rest back to the queue.

A message is only a hint: the batch's compare-and-set claim in the ledger decides who
sends it, so a message delivered twice (Dramatiq redelivers a dead consumer's
messages) or enqueued twice sends the batch once.
"""

from __future__ import annotations

import logging
import time
from typing import Iterator

from ..batch import BatchOutcome, Sender, send_batch
from .base import Runner
from .loop import POLL_SECONDS

log = logging.getLogger(__name__)

QUEUE_NAME = "batches"
ACTOR_NAME = "send_batch"
#: A pending batch enqueued this long ago and still pending is enqueued again (its
#: message may have died with a consumer's prefetch buffer).
REQUEUE_AFTER_SECONDS = 60.0


class QueueRunner(Runner):
    """Dramatiq on Redis: the ``send_batch`` actor, its producer (the runner interface)
    and its consumer.

    ``namespace`` keeps one deployment's (or one test's) queues apart from another's
    on a shared Redis.
    """

    def __init__(self, sender: Sender, *, namespace: str = "digest", consumer_threads: int = 2,
                 heartbeat_timeout_ms: int = 15_000):
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker
        from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications

        self.sender = sender
        self.consumer_threads = consumer_threads
        # No TimeLimit: it would raise inside a provider call: the ledger marks that ambiguous,
        # but a slow batch is better left to finish. Retries cover database hiccups;
        # the claim makes a retried message harmless.
        self.broker = RedisBroker(
            url=sender.runtime.settings.redis_url, namespace=namespace, heartbeat_timeout=heartbeat_timeout_ms,
            maintenance_chance=10_000,
            middleware=[AgeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), Retries(max_retries=5)],
        )
        self.actor = dramatiq.actor(self._consume, broker=self.broker, actor_name=ACTOR_NAME,
                                    queue_name=QUEUE_NAME, max_retries=5, min_backoff=1000, max_backoff=30_000)
        self._enqueued: dict[int, float] = {}  # batch id -> monotonic time enqueued by us
        self._consumer = None

    # ------------------------------------------------------------ producer (the scheduler)

    def outcomes(self) -> Iterator[BatchOutcome]:
        """Enqueues the pending batches not enqueued lately, and those planning commits until
        it is done (the tick plans while this runs on a thread of its own); yields nothing
        (the consumers send)."""
        taken: set[int] = set()
        while True:
            final = self.batches.complete()  # read first: the take below then sees every batch
            batch_ids = self.batches.take()
            taken.update(batch_ids)
            now = time.monotonic()
            fresh = [b for b in batch_ids if now - self._enqueued.get(b, -1e18) >= REQUEUE_AFTER_SECONDS]
            for batch_id in fresh:
                self.broker.enqueue(self.actor.message(batch_id))
                self._enqueued[batch_id] = now
            if fresh:
                log.info("enqueued %d batch(es) on %s", len(fresh), QUEUE_NAME)
            if final or self.batches.stopping():
                break
            self.batches.wait_for_more(POLL_SECONDS)
        self._enqueued = {b: t for b, t in self._enqueued.items() if b in taken}
        return iter(())

    # ------------------------------------------------------------ consumer (every worker)

    def _consume(self, batch_id: int) -> None:
        outcome = send_batch(self.sender, batch_id)
        log.info("batch %s: %s (sent=%d failed=%d ambiguous=%d)", batch_id, outcome.status,
                 outcome.sent, outcome.failed, outcome.ambiguous)

    def start_consuming(self) -> None:
        import dramatiq

        worker = dramatiq.Worker(self.broker, queues={QUEUE_NAME}, worker_threads=self.consumer_threads,
                                 worker_timeout=500)
        # Fetch no more messages than there are threads to run them: a message waiting
        # in a killed worker's memory would wait for Redis' heartbeat recovery.
        worker.queue_prefetch = self.consumer_threads
        worker.start()
        self._consumer = worker

    def stop_consuming(self, timeout_seconds: float) -> None:
        """Stop fetching, let batches in flight finish (up to the timeout), requeue the rest."""
        if self._consumer is not None:
            self._consumer.stop(timeout=int(timeout_seconds * 1000))
            self._consumer = None

    def close(self) -> None:
        self.broker.close()
