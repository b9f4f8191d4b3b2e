"""The scheduler's jobs and their triggers, shared by the worker and ``digest status``.

Triggers are anchored to fixed instants (the tick on every whole minute, ingestion on
multiples of its interval since a fixed epoch), so any process can tell when the next
runs are without asking the one that schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..settings import Schedule

TICK_JOB = "delivery-tick"
INGEST_JOB = "ingest"
LOCK_JOB = "scheduler-lock"
RECOVER_JOB = "recover-stale-batches"
PURGE_JOB = "purge-pending-signups"
PRUNE_JOB = "prune-bodies"
#: How often batches left ``sending`` by a dead process are looked for: a SIGKILLed
#: worker's batch is reported ambiguous within this, not at the next tick.
RECOVER_EVERY_SECONDS = 15
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class JobSpec:
    id: str
    description: str
    trigger: BaseTrigger
    #: How late a run may start and still run (APScheduler's default, 1 s, would drop
    #: a run delayed by a busy thread pool). A later run is skipped: the next one
    #: does the same work, since the ledger, not the run, knows what is owed.
    misfire_grace_time: int

    def next_run(self, now: datetime) -> datetime | None:
        return self.trigger.get_next_fire_time(None, now)


def scheduled_jobs(schedule: Schedule) -> list[JobSpec]:
    """The scheduled jobs: the delivery tick, ingestion, the purge of unconfirmed
    signups and the pruning of old bodies (run by the lock holder), and
    stale-batch recovery with the follow-up of ambiguous readers (run by every worker)."""
    every = schedule.ingest_every_minutes
    return [
        JobSpec(TICK_JOB, "delivery tick (every minute)",
                CronTrigger(second=0, timezone=timezone.utc), misfire_grace_time=50),
        JobSpec(INGEST_JOB, f"ingest sources (every {every} min)",
                IntervalTrigger(minutes=every, start_date=_EPOCH, timezone=timezone.utc),
                misfire_grace_time=max(60, every * 30)),
        # At a quarter past each hour: never at the same instant as ingestion.
        JobSpec(PURGE_JOB, "forget signups left unconfirmed for 30 days (hourly, at :15)",
                IntervalTrigger(hours=1, start_date=_EPOCH + timedelta(minutes=15), timezone=timezone.utc),
                misfire_grace_time=1800),
        # Daily at 03:45 UTC: bodies past [review] keep_bodies (digest.review.prune).
        JobSpec(PRUNE_JOB, "prune email bodies past [review] keep_bodies (daily, 03:45 UTC)",
                CronTrigger(hour=3, minute=45, timezone=timezone.utc), misfire_grace_time=6 * 3600),
        JobSpec(RECOVER_JOB, f"recover stale batches, settle ambiguous readers (every {RECOVER_EVERY_SECONDS} s, "
                "on every worker)",
                IntervalTrigger(seconds=RECOVER_EVERY_SECONDS, start_date=_EPOCH, timezone=timezone.utc),
                misfire_grace_time=RECOVER_EVERY_SECONDS),
    ]
