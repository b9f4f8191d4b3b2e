"""The worker's delivery tick at a million readers, over a simulated day.

    DATABASE_URL=postgresql://... python benchmarks/tick.py --subscribers 1000000

Setup (not timed): a fresh PostgreSQL database (``benchmarks/edition.py``'s), the
benchmark's publication and content, and N readers spread evenly over 24 zones and 12
send hours (05:00 to 16:00 local: 288 groups); then the ledger as a worker that had been
running would have left it at the walk's start (every reader whose send time had passed,
on their local yesterday and today, has a ``sent`` row), so the walk starts in the steady
state rather than catching up a day.

Timed: the worker's own tick (:class:`digest.schedule.worker.Worker`'s
:class:`~digest.schedule.tick.DeliveryTick`, SendGrid to ``benchmarks/sink.py``) on a
fake clock walked through 24 hours: at hh:00:30 the tick of that hour's readers (about
N/24: due, planned, sent), then at hh:01:30 and hh:30:00 ticks with nobody due. For a
tick with nobody due it prints its cost: the process's CPU time (``time.process_time``)
plus the database's, taken as the wall time of the tick's statements (SQLAlchemy's
cursor events: PostgreSQL's execution and the round trip). For an hour's tick: readers
due, the time to plan them (the tick's start to the end of its planning: the tick sends
while it plans, so batches may be going out before then), the time to the first request
at the sink, and the whole tick, then the three statements that took longest in it
(summed over their runs; the sending thread's statements included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent / "tests"))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import edition  # noqa: E402
from fakes.clock import FakeClock  # noqa: E402

from digest.deliver.ledger import get_or_create_edition  # noqa: E402
from digest.runtime import Runtime  # noqa: E402
from digest.schedule.due import find_due  # noqa: E402
from digest.schedule.worker import Worker  # noqa: E402
from digest.settings import load_settings  # noqa: E402

ZONES = list(dataset.TIME_ZONES)  # 24 zones
SEND_HOURS = list(range(5, 17))  # 12 send hours
#: The walk's start: the edition benchmark's content was published over the day before.
START = datetime(2026, 3, 10, 0, 0, tzinfo=timezone.utc)


def placement(n: int, _drawn_zone: str) -> tuple[str, int]:
    """Reader n's (zone, send hour): every one of the 288 groups gets N/288 readers."""
    return ZONES[n % len(ZONES)], SEND_HOURS[(n // len(ZONES)) % len(SEND_HOURS)]


def seed(runtime: Runtime, subscribers: int) -> None:
    dataset.seed_content(runtime)
    dataset.seed_subscribers(runtime, subscribers, placement=placement)


def settle_before(runtime: Runtime, when: datetime) -> int:
    """``sent`` rows for everyone the worker would have sent by ``when`` (the real
    :func:`find_due`, due and missed alike), written with COPY; returns how many."""
    schedule = runtime.settings.config.schedule
    with runtime.sessions() as session:
        owed = find_due(session, schedule, when)
        session.rollback()
        days: dict = {}
        for part in (owed.due, owed.missed):
            for day, ids in part.items():
                days.setdefault(day, []).extend(ids)
        editions = {day: get_or_create_edition(session, day).id for day in days}
    written = 0
    with runtime.engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy("COPY deliveries (edition_id, subscriber_id, status, created_at) FROM STDIN") as copy:
                for day, ids in days.items():
                    for sid in ids:
                        copy.write_row((editions[day], sid, "sent", when))
                    written += len(ids)
            cur.execute("ANALYZE deliveries")
        raw.commit()
    return written


class StatementClock:
    """Wall time of every statement the engine runs (the database's share of a tick)."""

    def __init__(self, engine) -> None:
        self.seconds = 0.0
        self.statements = 0
        self.by_statement: Counter = Counter()  # the statement's first words -> seconds
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = self._started.pop(id(cursor), None)
        if started is not None:
            took = time.perf_counter() - started
            self.seconds += took
            self.statements += 1
            self.by_statement[" ".join(statement.split())[:90]] += took


class PlanClock:
    """Wraps the worker's runner: the moment a tick's planning is done (the tick starts its
    runner before planning, and says when no more batches will come)."""

    def __init__(self, runner) -> None:
        self.runner = runner
        self.planned_at: float | None = None

    def start(self, batches) -> None:
        finished = batches.planning_finished

        def planning_finished() -> None:
            self.planned_at = time.perf_counter()
            finished()

        batches.planning_finished = planning_finished
        self.runner.start(batches)

    def __getattr__(self, name):
        return getattr(self.runner, name)


@contextmanager
def measured(statements: StatementClock):
    before = (time.perf_counter(), time.process_time(), statements.seconds, statements.statements,
              Counter(statements.by_statement))
    figures: dict = {}
    yield figures
    wall, cpu, db, count, by_statement = before
    figures.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu,
                   db=statements.seconds - db, statements=statements.statements - count,
                   slowest=(statements.by_statement - by_statement).most_common(3))


def walk(worker: Worker, clock: FakeClock, sink: edition.Sink, hours: int):
    statements = StatementClock(worker.runtime.engine)
    planner = PlanClock(worker.tick.runner)
    worker.tick.runner = planner
    idle, due = [], []
    for hour in range(hours):
        at = START + timedelta(hours=hour)
        clock.set(at + timedelta(seconds=30))
        planner.planned_at = None
        requests_before = sink.stats()["requests"]
        started_epoch, started = time.time(), time.perf_counter()
        with measured(statements) as figures:
            report = worker.tick.run()
        arrivals = sink.stats()["arrivals"][requests_before:]
        figures.update(hour=at, due=report.due, planned=report.planned, sent=report.sent, batches=report.batches,
                       plan=(planner.planned_at - started) if planner.planned_at else None,
                       first_request=(arrivals[0] - started_epoch) if arrivals else None)
        due.append(figures)
        print(f"{at:%H:%M} tick: {report.due:,} due, {report.planned:,} planned, {report.sent:,} sent in "
              f"{report.batches} batches; planned in "
              + (f"{figures['plan']:.2f} s" if figures["plan"] is not None else "-")
              + ", first request " + (f"{figures['first_request']:.2f} s" if figures["first_request"] is not None else "-")
              + f", whole tick {figures['wall']:.2f} s", flush=True)
        for text, seconds in figures["slowest"]:  # summed over the tick (its sending thread's too)
            print(f"    {seconds:6.2f} s  {text}", flush=True)
        for offset in (timedelta(minutes=1, seconds=30), timedelta(minutes=30)):
            clock.set(at + offset)
            with measured(statements) as figures:
                report = worker.tick.run()
            if report.due or report.planned or report.batches:
                print(f"  {clock.now():%H:%M:%S}: not idle ({report.log_line()})")
                continue
            figures["at"] = clock.now()
            idle.append(figures)
            print(f"  {clock.now():%H:%M:%S} idle tick: {1000 * (figures['cpu'] + figures['db']):.1f} ms "
                  f"(CPU {1000 * figures['cpu']:.1f} ms, database {1000 * figures['db']:.1f} ms over "
                  f"{figures['statements']} statements; wall {1000 * figures['wall']:.1f} ms)", flush=True)
    return idle, due


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The worker's tick at N readers over a simulated day.")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=24, help="hours of the day to walk (default 24)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    database_url = edition.fresh_database(edition.database_choice(os.environ.get("DATABASE_URL"), False))
    sink = edition.Sink()
    try:
        settings = load_settings(edition.environment(database_url, sink.url))
        runtime = Runtime.open(settings)
        seed(runtime, args.subscribers)
        settled = settle_before(runtime, START - timedelta(seconds=30))
        print(f"setup: {args.subscribers:,} readers in {len(ZONES)} zones x {len(SEND_HOURS)} send hours, "
              f"{settled:,} ledger rows as of {START - timedelta(seconds=30):%Y-%m-%d %H:%M:%S}Z, "
              f"in {time.perf_counter() - started:.1f} s (not timed)", flush=True)
        clock = FakeClock(START)
        worker = Worker(runtime, clock=clock)
        try:
            idle, due = walk(worker, clock, sink, args.hours)
        finally:
            worker.provider.close()
        runtime.close()
    finally:
        sink.stop()

    costs = sorted(1000 * (f["cpu"] + f["db"]) for f in idle)
    busy = [f for f in due if f["due"]]
    print(f"idle tick (nobody due), {len(costs)} ticks: CPU + database median {statistics.median(costs):.1f} ms, "
          f"max {costs[-1]:.1f} ms (target: at most 50 ms)" if costs else "idle tick: none measured")
    if busy:
        plans = sorted(f["plan"] for f in busy if f["plan"] is not None)
        firsts = sorted(f["first_request"] for f in busy if f["first_request"] is not None)
        print(f"hour's tick, {len(busy)} ticks, {statistics.median([f['due'] for f in busy]):,.0f} readers due "
              f"(median): planned in median {statistics.median(plans):.2f} s, max {plans[-1]:.2f} s; first request "
              f"median {statistics.median(firsts):.2f} s, max {firsts[-1]:.2f} s (target: within 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
