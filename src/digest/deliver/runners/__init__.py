"""Runners: the one way batches are driven, whatever the path (``digest send``, the
worker's tick, the Dramatiq consumer, the benchmark).

Every runner sends each batch through :func:`~digest.deliver.batch.send_batch` and
follows the same stop rule (:mod:`.batches`): once asked to stop (SIGTERM), it claims
nothing more; what it holds finishes and settles, or is released. They differ only in
where batches run:

* :class:`~.in_process.InlineRunner`: one after another, in this process;
* :class:`~.in_process.ThreadRunner`: ``DIGEST_SEND_CONCURRENCY`` at a time, on threads;
* :class:`~.processes.ProcessRunner`: in ``DIGEST_SEND_PROCESSES`` worker processes,
  from the moment planning commits the first batches;
* :class:`~.queue.QueueRunner`: enqueued on Redis for every ``digest worker`` (Dramatiq).

:func:`make_runner` is the one place one is chosen, from settings.
"""

from __future__ import annotations

from typing import Callable

from ..batch import Sender
from .base import Runner
from .batches import Batches, GivenBatches, LedgerBatches


def make_runner(sender: Sender, *, readers: Callable[[int], int] | None = None, queue_options: dict | None = None
                ) -> Runner:
    """The runner settings ask for.

    For the worker's tick (``queue_options`` given): Dramatiq when ``REDIS_URL`` is set,
    else one batch after another in the worker. For an edition (``digest send``, the
    benchmark): worker processes when ``DIGEST_SEND_PROCESSES`` > 1, the provider is the
    configured one (workers build theirs from settings, not a test's or a proof's), and
    the list is big (``readers(n)``, the readers counted up to ``n``, reaches ``n``:
    ``DIGEST_READERS_PER_SEND_PROCESS`` per process; ``readers`` None: a resend, never
    big); else threads
    (``DIGEST_SEND_CONCURRENCY``), or one after another.
    """
    settings = sender.runtime.settings
    if queue_options is not None:
        if settings.redis_url:
            from .queue import QueueRunner

            return QueueRunner(sender, **queue_options)
        from .in_process import InlineRunner

        return InlineRunner(sender)
    big = settings.readers_per_send_process * settings.send_processes
    if (readers is not None and settings.send_processes > 1 and sender.provider.name == settings.provider
            and readers(big) >= big):
        from .processes import ProcessRunner

        return ProcessRunner(sender, processes=settings.send_processes)
    from .in_process import in_process_runner

    return in_process_runner(sender, settings.send_concurrency)


__all__ = ["Batches", "GivenBatches", "LedgerBatches", "Runner", "make_runner"]
