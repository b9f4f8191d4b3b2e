"""``digest status``: recent editions, batch and delivery states, the next scheduled
runs, which process holds the scheduler lock, and how many readers are daily, weekly or
paused, with the next send of each kind (:mod:`digest.subscribers.cadence`). Read-only.

For an edition with ambiguous readers it says how many were settled by provider events,
how many are still waiting, and what happens next: resent by the worker at a given time
(``[delivery] ambiguous = "resend-after-wait"`` with SendGrid, first try only), or an
operator's ``digest send --resend-ambiguous --date D``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from ..deliver.ledger.settlement import PROVIDERS_WITH_EVENTS, RESEND_AFTER_WAIT
from ..models import Batch, BatchStatus, Delivery, DeliveryStatus, Edition, Subscriber, SubscriberStatus
from ..runtime import Runtime
from ..report.guards import active_trip
from ..settings import Schedule
from ..subscribers.cadence import DAILY, WEEKLY, is_paused, next_send, zone_of
from .due import publishes_on
from .jobs import scheduled_jobs
from .lock import LockState, SchedulerLock


@dataclass
class EditionStatus:
    date: date
    slot: str
    batches: Counter = field(default_factory=Counter)  # BatchStatus -> count
    deliveries: Counter = field(default_factory=Counter)  # DeliveryStatus -> count
    skip_reasons: Counter = field(default_factory=Counter)
    settled_by_events: int = 0  # ambiguous deliveries settled by the provider's events
    next_step: str | None = None  # for ambiguous readers still waiting


#: The kinds of reader ``digest status`` counts: a paused one is counted paused, whatever their frequency.
PAUSED = "paused"
READER_KINDS = (DAILY, WEEKLY, PAUSED)


@dataclass
class ReaderCounts:
    """Active readers by kind, and the next send instant of each kind (None: nobody)."""

    counts: Counter = field(default_factory=Counter)
    next_send: dict[str, datetime | None] = field(default_factory=dict)


@dataclass
class WorkerStatus:
    now: datetime
    lock: LockState | None
    next_runs: list[tuple[str, datetime | None]]
    editions: list[EditionStatus]
    held: str | None = None  # a guard holding sending (digest.report.guards): why
    readers: ReaderCounts = field(default_factory=ReaderCounts)


def collect_status(runtime: Runtime, lock: SchedulerLock, now: datetime) -> WorkerStatus:
    """Editions dated from yesterday to tomorrow (UTC): every local 'today' on Earth."""
    today = now.date()
    editions: list[EditionStatus] = []
    with runtime.sessions() as session:
        rows = session.execute(
            select(Edition.id, Edition.date, Edition.slot)
            .where(Edition.date.between(today - timedelta(days=1), today + timedelta(days=1)))
            .order_by(Edition.date, Edition.slot)
        ).all()
        for edition_id, day, slot in rows:
            status = EditionStatus(day, slot)
            status.batches.update(dict(session.execute(
                select(Batch.status, func.count()).where(Batch.edition_id == edition_id).group_by(Batch.status)
            ).all()))
            for state, reason, count in session.execute(
                select(Delivery.status, Delivery.skip_reason, func.count())
                .where(Delivery.edition_id == edition_id)
                .group_by(Delivery.status, Delivery.skip_reason)
            ):
                status.deliveries[state] += count
                if state == DeliveryStatus.SKIPPED:
                    status.skip_reasons[reason or "unknown"] += count
            status.settled_by_events = session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.edition_id == edition_id, Delivery.settled_by.is_not(None))) or 0
            if status.deliveries[DeliveryStatus.AMBIGUOUS]:
                status.next_step = _next_step(runtime, session, edition_id, day)
            editions.append(status)
        trip = active_trip(session)
        readers = count_readers(session, runtime.settings.config.schedule, now)
    holder = lock.current()
    runs = sorted(((spec.description, spec.next_run(now)) for spec in scheduled_jobs(runtime.settings.config.schedule)),
                  key=lambda run: (run[1] is None, run[1] or now))
    return WorkerStatus(now, holder, runs, editions, held=trip.reason if trip else None, readers=readers)


@dataclass(frozen=True)
class _ReaderGroup:
    frequency: str
    weekday: str | None
    paused_until: date | None
    send_hour: int


def count_readers(session, schedule: Schedule, now: datetime) -> ReaderCounts:
    """One GROUP BY over active readers (by cadence, zone and hour); each group's next
    send worked out once."""
    result = ReaderCounts()
    default_zone = zone_of(schedule.default_timezone)
    rows = session.execute(
        select(Subscriber.frequency, Subscriber.weekday, Subscriber.paused_until, Subscriber.timezone,
               Subscriber.send_hour, func.count())
        .where(Subscriber.status == SubscriberStatus.ACTIVE)
        .group_by(Subscriber.frequency, Subscriber.weekday, Subscriber.paused_until, Subscriber.timezone,
                  Subscriber.send_hour)
    ).all()
    for frequency, weekday, paused_until, tz_name, hour, members in rows:
        group = _ReaderGroup(frequency, weekday, paused_until, hour)
        zone = zone_of(tz_name) or default_zone
        kind = PAUSED if is_paused(group, now.astimezone(zone).date()) else frequency
        result.counts[kind] += members
        when = next_send(group, zone, now, lambda day: publishes_on(day, schedule))
        soonest = result.next_send.get(kind)
        if when is not None and (soonest is None or when < soonest):
            result.next_send[kind] = when
    return result


def _next_step(runtime: Runtime, session, edition_id: int, day: date) -> str:
    """What will happen to an edition's ambiguous readers."""
    settings = runtime.settings
    delivery = settings.config.delivery
    ask = f"waiting for an operator: check the provider's activity log, then 'digest send --resend-ambiguous --date {day}'"
    if settings.provider not in PROVIDERS_WITH_EVENTS:
        return f"{settings.provider} has no delivery events; {ask}"
    first_try = session.scalar(select(func.min(Batch.claimed_at)).where(
        Batch.edition_id == edition_id, Batch.status == BatchStatus.AMBIGUOUS, Batch.attempts == 1))
    if delivery.ambiguous != RESEND_AFTER_WAIT:
        return f"settled by SendGrid events as they arrive; otherwise ({delivery.ambiguous!r}) {ask}"
    if first_try is None:
        return f"already resent once; {ask}"
    resend_at = first_try + timedelta(minutes=delivery.ambiguous_wait_minutes)
    return (f"settled by SendGrid events as they arrive; readers still unaccounted for are resent once "
            f"by the worker from {resend_at:%Y-%m-%d %H:%M:%SZ}")


def format_status(status: WorkerStatus) -> str:
    t = lambda when: when.strftime("%Y-%m-%d %H:%M:%SZ") if when else "-"  # noqa: E731
    lines = [f"as of {t(status.now)}", ""]
    if status.held:
        lines += [f"! sending is held: {status.held}.", "  No batch starts, of this edition or the next, until "
                  "an operator runs 'digest resume --force'.", ""]
    if status.lock:
        lines.append(f"scheduler lock: held by {status.lock.holder} (lease until {t(status.lock.expires_at)})")
    else:
        lines.append("scheduler lock: free (no worker is scheduling)")
    lines.append("next scheduled runs" + ("" if status.lock else " (once a worker holds the lock)") + ":")
    for description, when in status.next_runs:
        lines.append(f"  {t(when)}  {description}")
    lines.append("")
    readers = status.readers
    lines.append("readers (active): " + " ".join(f"{kind}={readers.counts[kind]}" for kind in READER_KINDS))
    labels = {DAILY: "next daily send:", WEEKLY: "next weekly send:", PAUSED: "first back from a pause:"}
    for kind in READER_KINDS:
        if readers.counts[kind]:
            lines.append(f"  {labels[kind]:<25} {t(readers.next_send.get(kind))}")
    lines.append("")
    if not status.editions:
        lines.append("editions: none from yesterday to tomorrow")
    for edition in status.editions:
        batches = " ".join(f"{s}={edition.batches[s]}" for s in BatchStatus.ALL)
        deliveries = " ".join(f"{s}={edition.deliveries[s]}" for s in DeliveryStatus.ALL)
        lines.append(f"edition {edition.date} ({edition.slot})")
        lines.append(f"  batches:    {batches}")
        lines.append(f"  deliveries: {deliveries}")
        if edition.skip_reasons:
            reasons = ", ".join(f"{r}={n}" for r, n in sorted(edition.skip_reasons.items()))
            lines.append(f"  skipped:    {reasons}")
        if edition.settled_by_events:
            lines.append(f"  settled by provider events: {edition.settled_by_events} reader(s) whose send was ambiguous")
        if edition.next_step:
            lines.append(f"  ! {edition.deliveries[DeliveryStatus.AMBIGUOUS]} reader(s) waiting (ambiguous: may or may "
                         f"not have gone out): {edition.next_step}")
    return "\n".join(lines)
