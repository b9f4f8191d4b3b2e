"""``digest worker``: the APScheduler process (Procfile ``worker:``).

Every worker process runs one ``BlockingScheduler`` with a lock job that takes or
renews the scheduler lock every few seconds, and the recovery job: batches left
``sending`` by a dead process become ``ambiguous`` as soon as any worker sees the claim
is stale (whoever holds the lock: a dead lock holder's own batches are recovered by the
others within one recovery interval, not after the lock's takeover), and ambiguous
readers are settled from provider events or resent after the wait
(:mod:`digest.deliver.ledger.settlement`). The holder adds the delivery tick and ingestion
jobs (fixed ids, ``replace_existing``); a worker that loses or never gets the lock has
none and, with ``REDIS_URL``, only consumes queued batches.

Shutdown follows healthchecks' ``sendalerts``: the SIGTERM handler only sets a flag.
A watcher thread stops the scheduler; the tick checks the flag between batches, so
the batch in flight finishes, and the worker exits 0 well inside Heroku's 30 s. A
batch that cannot finish in time stays ``sending`` and the next tick's stale-batch
recovery marks it ambiguous: never resent silently, never lost from view.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ..database_url import reason_of
from ..database_wait import wait_for_database
from ..db import UNREACHABLE
from ..deliver.batch import Sender
from ..deliver.ledger import recover_stale_batches, worker_identity
from ..deliver.ledger.settlement import follow_up_ambiguous
from ..deliver.providers.factory import make_provider
from ..deliver.runners import make_runner
from ..deliver.worker_processes import start_fork_server
from ..runtime import Runtime
from .clock import Clock, SystemClock
from .jobs import INGEST_JOB, LOCK_JOB, PRUNE_JOB, PURGE_JOB, RECOVER_JOB, TICK_JOB, scheduled_jobs
from .lock import DEFAULT_TTL, make_lock
from .tick import DeliveryTick

#: The scheduler lock's own thread (see ``executors`` in :class:`Worker`).
LOCK_EXECUTOR = "lock"
log = logging.getLogger(__name__)

#: Leaves Heroku's SIGTERM-to-SIGKILL 30 s a margin, and meets our own 25 s promise.
SHUTDOWN_TIMEOUT = 18.0


class _RunningJobs:
    """Counts jobs in progress so shutdown can wait for them, with a deadline."""

    def __init__(self):
        self._count = 0
        self._cond = threading.Condition()

    def wrap(self, fn: Callable[[], object], name: str) -> Callable[[], None]:
        def run() -> None:
            with self._cond:
                self._count += 1
            try:
                fn()
            except UNREACHABLE as exc:
                log.warning("job %s: the database did not answer (%s); the next run will try again",
                            name, reason_of(exc))
            except Exception:
                log.exception("job %s failed; the next run will try again", name)
            finally:
                with self._cond:
                    self._count -= 1
                    self._cond.notify_all()
        return run

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=max(timeout, 0))


class Worker:
    def __init__(self, runtime: Runtime, *, clock: Clock | None = None, namespace: str = "digest",
                 lock_ttl: timedelta = DEFAULT_TTL, shutdown_timeout: float = SHUTDOWN_TIMEOUT,
                 consumer_threads: int = 2):
        self.runtime = runtime
        self.clock = clock or SystemClock()
        if runtime.settings.render_processes:
            # The ticks' plans render in worker processes forked by this process's fork server:
            # started now, its imports (a second of CPU, several on a busy machine) no longer
            # come before a new worker's first batch.
            start_fork_server()
        self.worker_id = worker_identity()
        self.stop = threading.Event()
        self.shutdown_timeout = shutdown_timeout
        self.lock_ttl = lock_ttl
        self.lock = make_lock(runtime, self.worker_id, namespace=namespace, ttl=lock_ttl, clock=self.clock)
        self.provider = make_provider(runtime.settings)
        runner = make_runner(Sender.open(runtime, self.provider, self.worker_id),
                             queue_options={"namespace": namespace, "consumer_threads": consumer_threads})
        self.runner = runner  # with Redis, it consumes enqueued batches too
        self.tick = DeliveryTick(runtime, runner, max_recipients=self.provider.max_recipients, clock=self.clock,
                                 should_stop=self.stop.is_set)
        self.running = _RunningJobs()
        self.holds_lock = False
        self._announced_standby = False
        self._database_away = False
        self._scheduler_done = False
        self.scheduler = BlockingScheduler(
            timezone=timezone.utc,
            executors={"default": ThreadPoolExecutor(4),
                       # the lock's renewal never waits behind the work it guards (a tick or an
                       # ingest stuck on a database that went away holds a default thread)
                       LOCK_EXECUTOR: ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )

    # ------------------------------------------------------------ signals

    def request_stop(self, signum=None, frame=None) -> None:
        """The signal handler: only sets the flag (the watcher thread does the rest)."""
        self.stop.set()

    def _watch_for_stop(self) -> None:
        self.stop.wait()
        log.info("shutdown requested: no new work will be claimed")
        while True:
            try:
                self.scheduler.shutdown(wait=False)
                return
            except SchedulerNotRunningError:
                if self._scheduler_done:
                    return
                time.sleep(0.05)  # signalled before start() got going

    # ------------------------------------------------------------ jobs

    def _keep_lock(self) -> None:
        if self.stop.is_set():
            return
        try:
            held = self.lock.acquire()
        except UNREACHABLE as exc:  # one line when it goes, one when it is back: no traceback per try
            if not self._database_away:
                log.warning("the database did not answer for the scheduler lock (%s); not scheduling until it does",
                            reason_of(exc))
            self._database_away, held = True, False
        except Exception:
            log.exception("could not reach the scheduler lock; not scheduling until it answers")
            held = False
        else:
            if self._database_away:
                log.warning("the database answers again")
            self._database_away = False
        if held and not self.holds_lock:
            log.info("scheduler lock acquired by %s: scheduling ingest and delivery", self.worker_id)
            self._add_scheduled_jobs()
        elif not held and self.holds_lock:
            log.warning("scheduler lock lost by %s: consuming only", self.worker_id)
            self._remove_scheduled_jobs()
        elif not held and not self.holds_lock and not self._announced_standby and not self._database_away:
            holder = _safe(self.lock.current)
            log.info("scheduler lock held by %s: %s consumes jobs only",
                     holder.holder if holder else "another worker", self.worker_id)
            self._announced_standby = True
        self.holds_lock = held

    def _add_scheduled_jobs(self) -> None:
        work = {TICK_JOB: self.tick, INGEST_JOB: self._ingest, PURGE_JOB: self._purge_pending,
                PRUNE_JOB: self._prune_bodies}
        for spec in scheduled_jobs(self.runtime.settings.config.schedule):
            if spec.id not in work:
                continue  # run by every worker (see run())
            extra = {"next_run_time": datetime.now(timezone.utc)} if spec.id == TICK_JOB else {}  # catch up at once
            self.scheduler.add_job(
                self.running.wrap(work[spec.id], spec.id), spec.trigger, id=spec.id, name=spec.description,
                replace_existing=True, misfire_grace_time=spec.misfire_grace_time, **extra,
            )

    def _remove_scheduled_jobs(self) -> None:
        for job_id in (TICK_JOB, INGEST_JOB, PURGE_JOB, PRUNE_JOB):
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)

    def _recover(self) -> None:
        settings = self.runtime.settings
        with self.runtime.sessions() as session:
            recovered = recover_stale_batches(session)
            follow_up = follow_up_ambiguous(session, settings.config.delivery, settings.provider)
        if recovered:
            log.warning("batches %s were left 'sending' by a stopped process: marked ambiguous by %s",
                        recovered, self.worker_id)
        if follow_up.settled:
            log.info("%d ambiguous delivery(ies) settled by provider events", follow_up.settled)

    def _purge_pending(self) -> None:
        from ..subscribers.signup import purge_pending

        with self.runtime.session() as session:
            purged = purge_pending(session)
        if purged:
            log.info("forgot %d signup(s) left unconfirmed for 30 days", purged)

    def _prune_bodies(self) -> None:
        from ..review.prune import prune_bodies

        keep = self.runtime.settings.config.review.keep_bodies
        with self.runtime.session() as session:
            pruned = prune_bodies(session, keep, datetime.now(timezone.utc))
        if pruned:
            log.info("pruned %d email body(ies) past [review] keep_bodies (%s)", pruned, keep)

    def _ingest(self) -> None:
        if self.stop.is_set():
            return
        from ..ingest import ingest_sources

        report = ingest_sources(self.runtime, self.runtime.settings.config.sources)
        totals = ", ".join(f"{name}={count}" for name, count in report.totals().items())
        log.info("ingest: %d source(s): %s", len(self.runtime.settings.config.sources), totals)

    # ------------------------------------------------------------ run

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.request_stop)
        threading.Thread(target=self._watch_for_stop, name="stop-watcher", daemon=True).start()
        if not self.runtime.ready and not wait_for_database(self.runtime, self.stop):
            self._scheduler_done = True
            _safe(self.provider.close)
            log.info("worker %s stopped before the database answered", self.worker_id)
            return 0

        interval = max(1.0, min(10.0, self.lock_ttl.total_seconds() / 4))
        self.scheduler.add_job(self._keep_lock, IntervalTrigger(seconds=interval), id=LOCK_JOB,
                               name="scheduler lock", replace_existing=True, misfire_grace_time=None,
                               executor=LOCK_EXECUTOR,
                               next_run_time=datetime.now(timezone.utc))
        recover = next(spec for spec in scheduled_jobs(self.runtime.settings.config.schedule) if spec.id == RECOVER_JOB)
        self.scheduler.add_job(self.running.wrap(self._recover, RECOVER_JOB), recover.trigger, id=RECOVER_JOB,
                               name=recover.description, replace_existing=True,
                               misfire_grace_time=recover.misfire_grace_time, next_run_time=datetime.now(timezone.utc))
        self.runner.start_consuming()
        log.info("worker %s started (%s)", self.worker_id,
                 "queue: Redis" if self.runtime.settings.redis_url else "batches sent in-process")
        if not self.stop.is_set():
            self.scheduler.start()  # blocks until the watcher shuts it down
        self._scheduler_done = True
        return self._finish()

    def _finish(self) -> int:
        deadline = time.monotonic() + self.shutdown_timeout
        self.runner.stop_consuming(deadline - time.monotonic())
        idle = self.running.wait_idle(deadline - time.monotonic())
        if self.holds_lock:
            _safe(self.lock.release)
        if not idle:
            log.warning("a batch is still in flight after %.0f s; leaving it 'sending' for the next "
                        "start to mark ambiguous", self.shutdown_timeout)
            logging.shutdown()
            sys.stdout.flush()
            os._exit(0)  # threads stuck in a provider call must not hold the exit
        _safe(self.provider.close)
        _safe(self.runner.close)
        log.info("worker %s stopped", self.worker_id)
        return 0


def _safe(fn):
    try:
        return fn()
    except Exception:
        log.exception("during shutdown: %s failed", getattr(fn, "__name__", fn))
        return None
