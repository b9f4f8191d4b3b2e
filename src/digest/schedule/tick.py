"""One delivery tick: plan what is due, send or enqueue it, record closed windows.

A tick is idempotent. It asks the ledger who has no row yet for the edition of their
local date (:func:`~digest.schedule.due.find_due`), writes their rows and batches
(:func:`~digest.deliver.plan.plan_edition`, whose unique (subscriber, edition)
row makes a racing or repeated tick a no-op), and hands every pending batch of the
last few editions to the runner (:mod:`digest.deliver.runners`: sent in this process,
or enqueued for every worker). Running it twice, late, or in two processes at once
sends nothing twice.

Sending starts while planning goes on, as ``digest send``'s does: the runner is started
before planning and driven on a thread of its own (:class:`.sending.SendingThread`), taking each batch
once planning has committed it. Planning writes a body's readers as full batches while
it goes and the rest at its end, so the tick plans a zone's hour (about 40,000 readers
at a million) in two slices (:func:`_slices`): a small first one, whose batches are
committed within seconds, then the rest in one plan, so the first readers do not wait
for the whole hour's plan. A body shared by both slices costs one batch more, so a day
with fewer readers owed (:data:`SLICED_FROM`) is planned in one, after that first slice:
an hour's readers fall on two local dates, and the smaller one is such a day.

For the same reason the tick asks the ledger in three steps: the send windows opened in
the last hour (:data:`RECENT_WINDOWS`: those a worker that kept ticking finds readers in),
planned at once; then the older open windows; then, while the batches go out, the closed
ones (who missed a window). A new worker knows no window settled (:mod:`.settled`), and
at a million readers the older and closed windows are most of the subscriber table.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..deliver.ledger import get_or_create_edition, record_last_digests, recover_stale_batches
from ..deliver.batch import NOT_CLAIMED, BatchOutcome
from ..deliver.plan import BodyRenderer, PlanSummary, SkipReason, SubscriberSelector, plan_edition
from ..deliver.plan.rows import insert_deliveries
from ..deliver.run import EditionRun
from ..deliver.runners import LedgerBatches, Runner
from ..models import Batch, BatchStatus, DeliveryStatus, Edition, utcnow
from ..review.gate import hold_unapproved
from ..runtime import Runtime
from ..select import Selector, content_since
from .clock import Clock
from .due import MISSED_SEND_WINDOW, find_due
from .sending import SendingThread
from .settled import SettledWindows

log = logging.getLogger(__name__)

#: Pending batches of editions this many days before today (UTC) are still sent: the
#: furthest local date from UTC is a day away, and the grace window can add another.
RECENT_EDITION_DAYS = 2
#: A day with more owed readers than this is planned in two slices: the first
#: :data:`FIRST_SLICE` of them, then the rest (see the module's docstring). A zone's hour
#: at a million readers is 35,000-42,000 on its main local date; a smaller day is planned
#: in one go, without the extra batches (its full batches are written as planning fills them).
SLICED_FROM = 25_000
FIRST_SLICE = 200
#: The open send windows that opened this long before the tick are asked about first.
RECENT_WINDOWS = timedelta(hours=1)


@dataclass
class TickReport:
    due: int = 0
    planned: int = 0  # delivery rows queued by this tick
    batches: int = 0  # batches handed to the runner
    sent: int = 0
    failed: int = 0
    ambiguous: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> subscribers
    recovered: list[int] = field(default_factory=list)  # stale batches marked ambiguous
    stopped_early: bool = False

    def add(self, outcome: BatchOutcome) -> None:
        self.sent += outcome.sent
        self.failed += outcome.failed
        self.ambiguous += outcome.ambiguous
        if outcome.suppressed:
            self.skipped["suppressed"] += outcome.suppressed

    def log_line(self) -> str:
        skipped = ", ".join(f"{reason}={n}" for reason, n in sorted(self.skipped.items()) if n) or "none"
        line = (f"tick: due={self.due} planned={self.planned} batches={self.batches} sent={self.sent} "
                f"skipped[{skipped}] failed={self.failed} ambiguous={self.ambiguous}")
        if self.recovered:
            line += f" recovered-as-ambiguous={len(self.recovered)}"
        if self.stopped_early:
            line += " (stopped early: shutdown requested)"
        return line


class DeliveryTick:
    """Callable by the scheduler every minute; ``should_stop`` is the SIGTERM flag."""

    def __init__(
        self,
        runtime: Runtime,
        runner: Runner,
        *,
        max_recipients: int,
        clock: Clock,
        renderer: BodyRenderer | None = None,
        selector_factory: Callable[[Session, datetime], SubscriberSelector] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ):
        self.runtime = runtime
        self.runner = runner
        self.max_recipients = max_recipients
        self.clock = clock
        self.renderer = renderer
        self.selector_factory = selector_factory
        self.should_stop = should_stop
        self.settled = SettledWindows()  # send windows found with nobody owed (:mod:`.settled`)
        self._content_since: datetime | None = None

    def __call__(self) -> TickReport:
        report = self.run()
        log.info("%s", report.log_line())
        return report

    def run(self) -> TickReport:
        now = self.clock.now()
        schedule = self.runtime.settings.config.schedule
        report = TickReport()
        with self.runtime.sessions() as session:
            # Claims are stamped with the real time, so staleness is judged on it too.
            report.recovered = recover_stale_batches(session)
            # The windows opened in the last hour first: a new worker knows none settled, and
            # asking about every open one (most of a grace period's readers) would come
            # before the first batch; the older ones are asked about once these are planned.
            recent = now - RECENT_WINDOWS
            owed = find_due(session, schedule, now, self.settled, kinds=("due",), opened_since=recent)
            older_asked = not owed.due
            if older_asked:  # nobody in the newest windows: ask about the rest at once
                older = find_due(session, schedule, now, self.settled, kinds=("due",), refresh=False,
                                 opened_before=recent)
                owed = older
            session.rollback()
        report.due = owed.due_count
        owed = hold_unapproved(self.runtime, owed, now)  # [review] approval (digest.review.gate)

        if not owed.due:
            self._record_closed_windows(now, report)  # nothing to plan first
        batches = LedgerBatches(self.runtime, _recent_pending(now.date()), planning_done=not owed.due,
                                should_stop=self.should_stop)
        self.runner.start(batches)
        if owed.due:
            self._content_since = None  # asked once a tick, by the first plan (:meth:`_selector`)
            sending = SendingThread(self.runner)  # sends each batch as soon as planning commits it
            try:
                self._plan_days(owed, now, report)
                if not older_asked and not self.should_stop():
                    self._plan_days(self._owed_in_older_windows(now, recent, report), now, report)
            except BaseException:
                batches.abort()  # batches already claimed settle; no more are taken
                sending.join()
                raise
            batches.planning_finished()
            try:
                self._record_closed_windows(now, report)  # while the planned batches go out
            finally:
                outcomes = sending.join()  # the batches handed out settle, whatever happened here
        else:
            outcomes = self.runner.outcomes()
        settled = False
        for outcome in outcomes:
            if outcome.status != NOT_CLAIMED:
                report.add(outcome)
                settled = True
        report.batches = len(batches.handed_out())
        if settled and not self.should_stop():
            # As `digest send` does once its batches are settled: the readers' last digest,
            # in one statement per part of the table, now rather than first thing in the
            # next hour's plan, before its first batch.
            settings = self.runtime.settings
            with self.runtime.sessions() as session:
                record_last_digests(session, parts=settings.send_processes, open_session=self.runtime.sessions)
        report.stopped_early = report.stopped_early or self.should_stop()
        return report

    def _plan_days(self, owed, now: datetime, report: TickReport) -> None:
        """Each day's readers, in its slices (:func:`_slices`); a day's first slice, when it
        has one, before any other day's plan: the readers of a zone's hour fall on two local
        dates, and the smaller date (planned whole: every render before its first batch) came
        first, so the first request waited for its whole plan (about 7,000 readers at a million)."""
        days = {day: _slices(subscriber_ids) for day, subscriber_ids in owed.due.items()}
        order = [(day, 0) for day, parts in days.items() if len(parts) > 1]
        order += [(day, i) for day, parts in days.items() for i in range(len(parts)) if (day, i) not in order]
        written: Counter = Counter()  # per day: readers with a row now, and readers blocked
        blocked: Counter = Counter()
        logged: dict[date, set[str]] = {day: set() for day in days}
        for day, i in order:
            if self.should_stop():
                report.stopped_early = True
                return
            summary = self._plan(day, days[day][i], now, report, logged[day])
            written[day] += summary.queued + sum(n for reason, n in summary.skipped.items()
                                                 if reason != SkipReason.BLOCKED)
            blocked[day] += summary.skipped[SkipReason.BLOCKED]
            if i == len(days[day]) - 1 and written[day] == len(owed.due[day]) and not blocked[day]:
                self.settled.written("due", day)  # every reader owed has a row now

    def _owed_in_older_windows(self, now: datetime, recent: datetime, report: TickReport):
        """Readers owed in open windows opened before ``recent`` (a worker that was down, or
        a new one: asked once the newest windows' readers are planned)."""
        with self.runtime.sessions() as session:
            owed = find_due(session, self.runtime.settings.config.schedule, now, self.settled, kinds=("due",),
                            refresh=False, opened_before=recent)
            session.rollback()
        report.due += owed.due_count
        return hold_unapproved(self.runtime, owed, now) if owed.due else owed

    def _plan(self, day: date, subscriber_ids: list[int], now: datetime, report: TickReport,
              logged: set[str]) -> PlanSummary:
        """One plan of a day's readers (a slice of them); its problems are logged once a
        day's plans (``logged``), not once per slice."""
        with self.runtime.sessions() as session:
            edition = get_or_create_edition(session, day)
            selector = self._selector(session, now)
            summary = plan_edition(
                self.runtime, edition, EditionRun(now), renderer=self.renderer, selector=selector,
                subscriber_ids=subscriber_ids, max_recipients=self.max_recipients,
            )
        report.planned += summary.queued
        report.skipped.update({reason: n for reason, n in summary.skipped.items() if n})
        lines = [(logging.ERROR, summary.blocked_reason)] if summary.blocked_reason else []
        lines += [(logging.WARNING, line) for line in summary.render_problems.lines()]  # items left out, failed renders
        lines += [(logging.INFO, line) for line in summary.render_problems.cleaned_lines()]  # harmless: said once a tick
        for level, line in lines:
            if line not in logged:
                logged.add(line)
                log.log(level, "edition %s: %s", day, line)
        return summary

    def _selector(self, session: Session, now: datetime) -> SubscriberSelector:
        """A plan's selector; where it loads content from is asked once a tick, not per plan
        (a scan of the subscribers: 0.1-0.4 s at a million readers, before the first batch)."""
        if self.selector_factory:
            return self.selector_factory(session, now)
        if self._content_since is None:
            self._content_since = content_since(session, self.runtime.settings.config, now)
        return Selector(session, self.runtime.settings.config, now, since=self._content_since)

    def _record_closed_windows(self, now: datetime, report: TickReport) -> None:
        """Readers of send windows that closed unsent, recorded as skipped: asked about after
        planning, as the closed windows of a new worker's first tick (it knows none settled)
        are most of the subscriber table, which the readers due now need not wait for."""
        if self.should_stop():
            return
        with self.runtime.sessions() as session:
            missed = find_due(session, self.runtime.settings.config.schedule, now, self.settled,
                              kinds=("missed",), refresh=False).missed
            session.rollback()
        for day, subscriber_ids in missed.items():
            report.skipped[MISSED_SEND_WINDOW] += self._record_missed(day, subscriber_ids)

    def _record_missed(self, day: date, subscriber_ids: list[int]) -> int:
        """``skipped`` rows for a window that closed unsent: reported, never sent late."""
        with self.runtime.sessions() as session:
            edition = get_or_create_edition(session, day)
            # Readers erased meanwhile get no row.
            inserted = sum(insert_deliveries(session, edition.id, DeliveryStatus.SKIPPED, MISSED_SEND_WINDOW,
                                             utcnow(), subscriber_ids).values())
            session.commit()
        if inserted:
            log.warning("edition %s: %d subscriber(s) recorded as skipped (%s)", day, inserted, MISSED_SEND_WINDOW)
        if inserted == len(subscriber_ids):
            self.settled.written("missed", day)
        return inserted


def _slices(subscriber_ids: list[int]) -> list[list[int]]:
    """A day's owed readers as the tick plans them: the first :data:`FIRST_SLICE`, then the rest."""
    if len(subscriber_ids) <= max(SLICED_FROM, FIRST_SLICE):
        return [subscriber_ids]
    return [subscriber_ids[:FIRST_SLICE], subscriber_ids[FIRST_SLICE:]]


def _recent_pending(today: date):
    """Pending batches of the last few editions, oldest edition first, in batch order."""
    since = today - timedelta(days=RECENT_EDITION_DAYS)
    return (select(Batch.id)
            .join(Edition, Edition.id == Batch.edition_id)
            .where(Batch.status == BatchStatus.PENDING, Edition.date >= since)
            .order_by(Edition.date, Batch.number))
