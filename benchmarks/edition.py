"""One whole edition for N subscribers, through the code ``digest send`` runs.

    python benchmarks/edition.py --subscribers 100000

Setup (not timed): a fresh database (``DATABASE_URL``, PostgreSQL, where production runs;
SQLite, or a temporary SQLite file when unset, only with ``--allow-sqlite``), the 12-topic publication of ``benchmarks/config.toml``, 300 briefings,
40 videos and N subscribers (``benchmarks/dataset.py``), and a SendGrid-compatible sink
in its own process (``benchmarks/sink.py``).

Timed: :func:`digest.deliver.send_edition` with the SendGrid provider, exactly as
``digest send`` calls it (plan: select, render once per distinct selection, write the
ledger; send: claim each batch, per-recipient tokens, one HTTP request per batch, settle).
The first-request time is from the edition's start to the first request the sink
received (the sink's clock: nothing in the send path is hooked). Then, on the same
database, the ledger floor (``benchmarks/floor.py``: COPY the ledger rows, per batch read
them back, sign the links, encode the request, settle; the readers' last-digest time),
and the edition's time against it; then the same floor in the edition's own batches
(``measure_floor(batches_of=...)``: one request per body and 1,000 readers, as the
edition had to make), which splits the edition's distance from the floor into what
its batches cost and what its own work costs.

Peak RSS is printed twice: the edition process's own, and the whole tree's (the edition
process with its fork server and worker processes, sampled: ``benchmarks/tree_rss.py``).
Setup runs in another process, the sink in a third; neither is counted. The worker processes' CPU time is theirs and, on Linux, their fork server's
(``digest.deliver.worker_processes``), stopped after the timed edition so that it counts. The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import floor  # noqa: E402
from tree_rss import TreePeak  # noqa: E402

from digest import db  # noqa: E402
from digest.deliver import send_edition  # noqa: E402
from digest.deliver.providers.factory import make_provider  # noqa: E402
from digest.deliver.worker_processes import stop_fork_server  # noqa: E402
from digest.models import RenderedBody  # noqa: E402
from digest.runtime import Runtime  # noqa: E402
from digest.settings import load_settings, normalise_database_url  # noqa: E402

API_KEY = "SG.benchmark-key"
SECRET_KEY = "benchmark-secret-key-0123456789"
SINK = Path(__file__).resolve().parent / "sink.py"


#: Settings of the edition taken from the benchmark's own environment when set.
PASSED_ON = ("DIGEST_RENDER_PROCESSES", "DIGEST_SEND_PROCESSES", "DIGEST_READERS_PER_SEND_PROCESS")


def environment(database_url: str, sink_url: str) -> dict[str, str]:
    return {
        "DIGEST_CONFIG": str(dataset.CONFIG_PATH),
        "DATABASE_URL": database_url,
        "DIGEST_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_API_HOST": sink_url,
        "DIGEST_SECRET_KEY": SECRET_KEY,
        "DIGEST_BASE_URL": "https://digest.ridgeline.example",
        "DIGEST_SEND_CONCURRENCY": os.environ.get("DIGEST_SEND_CONCURRENCY", "8"),
    } | {name: os.environ[name] for name in PASSED_ON if name in os.environ}


# ------------------------------------------------------------------ setup


def fresh_database(database_url: str | None) -> str:
    """A new, migrated, empty database: the one named by the URL, dropped and created
    again (PostgreSQL) or started afresh (a SQLite file), or a temporary SQLite file."""
    if not database_url:
        path = Path(tempfile.mkdtemp(prefix="digest-bench-")) / "bench.db"
        url = f"sqlite:///{path}"
    elif make_url(normalise_database_url(database_url)).get_backend_name() == "sqlite":
        url = normalise_database_url(database_url)
        Path(make_url(url).database).unlink(missing_ok=True)
    else:
        url = recreate_database(normalise_database_url(database_url))
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return url


def recreate_database(url: str, *, template_url: str | None = None) -> str:
    """The PostgreSQL database named by ``url`` dropped and created again, empty or as a
    copy of ``template_url``'s (``CREATE DATABASE ... TEMPLATE``); returns ``url``."""
    template = f' TEMPLATE "{make_url(template_url).database}"' if template_url else ""
    _as_server_admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', 'CREATE DATABASE "{name}"' + template)
    return url


def drop_database(url: str) -> None:
    """The PostgreSQL database named by ``url`` dropped, if it is there."""
    _as_server_admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_server_admin(url: str, *statements: str) -> None:
    """``statements`` (``{name}``: the database ``url`` names) run from the server's
    ``postgres`` database, each on its own (a database is not made or dropped in a
    transaction)."""
    parsed = make_url(normalise_database_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement.format(name=parsed.database)))
    admin.dispose()


def template_database(subscribers: int, *, reuse: bool) -> str:
    """The planning benchmarks' template (``DATABASE_URL``, PostgreSQL): made afresh with
    the edition workload for ``subscribers`` readers, or, with ``reuse``, the one a
    previous run left there."""
    database_url = database_choice(os.environ.get("DATABASE_URL"), allow_sqlite=False)
    if reuse:
        return normalise_database_url(database_url)
    template = fresh_database(database_url)
    seed(template, subscribers)
    return template


def seed(database_url: str, subscribers: int) -> None:
    runtime = Runtime.open(load_settings(environment(database_url, "http://127.0.0.1:9")))
    try:
        dataset.seed_content(runtime)
        dataset.seed_subscribers(runtime, subscribers)
    finally:
        runtime.close()


class Sink:
    """``benchmarks/sink.py`` in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(SINK), "--port", "0", "--api-key", API_KEY],
                                        stdout=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# ------------------------------------------------------------------ the timed edition


def machine_busy_seconds() -> float:
    """CPU seconds spent by every process on this machine so far (user, system and the
    like from /proc/stat; 0 where there is no /proc): how close the edition came to
    using every core."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU seconds spent so far by the PostgreSQL server on this machine (0 where it runs
    elsewhere): its processes' own, plus what the postmaster's exited children (the
    connections closed so far) left in its children's times."""
    total = 0.0
    for process in psutil.process_iter(["name", "ppid"]):
        if process.info["name"] != "postgres":
            continue
        try:
            times = process.cpu_times()
            parent_is_server = psutil.Process(process.info["ppid"]).name() == "postgres"
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
        if not parent_is_server:  # the postmaster
            total += times.children_user + times.children_system
    return total


def wal_counters(database_url: str) -> dict[str, int] | None:
    """The server's write-ahead log so far (PostgreSQL 14+; None elsewhere): bytes (from
    the current WAL position, exact), full-page images (``pg_stat_wal``, which a backend
    reports when its transaction ends: the edition's and the floor's connections are
    closed by the time it is read again) and checkpoints. Cluster-wide: whatever else the
    server does meanwhile counts too."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return None
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, w.wal_fpi, "
                "b.checkpoints_timed + b.checkpoints_req FROM pg_stat_wal w, pg_stat_bgwriter b")).one()
    finally:
        engine.dispose()
    return {"bytes": int(row[0]), "full_page_images": int(row[1]), "checkpoints": int(row[2])}


def wal_line(before: dict[str, int] | None, after: dict[str, int] | None) -> str:
    if before is None or after is None:
        return "not measured"
    grew = {name: after[name] - before[name] for name in before}
    return (f"{grew['bytes'] / 1e6:,.0f} MB, {grew['full_page_images']:,} full-page images, "
            f"{grew['checkpoints']} checkpoint(s)")


class StageClock:
    """The progress object ``send_edition`` reports to: marks the end of planning."""

    def __init__(self) -> None:
        self.planned_at: float | None = None
        self.batches = 0

    def planned(self, batches: int) -> None:
        self.planned_at = time.perf_counter()
        self.batches = batches

    def batch_done(self, outcome) -> None:
        pass


def run_edition(runtime: Runtime, provider, *, progress=None):
    """The edition as ``digest send`` runs it (``digest.cli.send_commands``), on the
    benchmark's fixed date and clock."""
    return send_edition(runtime, provider, dataset.EDITION_DATE, now=dataset.NOW, progress=progress)


def timed_edition(database_url: str, sink_url: str, results) -> None:
    """Runs in a fresh process, so its peak RSS is the edition's alone (render worker
    processes, when the edition starts them, report theirs separately)."""
    start_usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at_start = start_usage.ru_utime + start_usage.ru_stime  # imports and opening the runtime: not the edition's
    settings = load_settings(environment(database_url, sink_url))
    runtime = Runtime.open(settings)
    provider = make_provider(settings)
    clock = StageClock()
    busy_before, postgres_before = machine_busy_seconds(), postgres_cpu_seconds()
    started_epoch = time.time()  # the sink stamps its first request on the same clock
    started = time.perf_counter()
    summary = run_edition(runtime, provider, progress=clock)
    finished = time.perf_counter()
    busy, postgres = machine_busy_seconds() - busy_before, postgres_cpu_seconds() - postgres_before
    # Worker processes forked by a fork server are its children: their CPU time (and the
    # server's own imports) reaches RUSAGE_CHILDREN once the server is stopped and reaped.
    stop_fork_server()
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    provider.close()
    peak_mb = own.ru_maxrss / 1024
    runtime.close()
    planned_at = clock.planned_at or finished
    results.put({
        "seconds": finished - started, "plan_seconds": planned_at - started, "send_seconds": finished - planned_at,
        "render_seconds": summary.render_seconds, "render_cpu_seconds": summary.render_cpu_seconds, "bodies": summary.bodies_rendered, "batches": clock.batches,
        "render_processes": settings.render_processes, "send_processes": settings.send_processes,
        "cpu_own": own.ru_utime + own.ru_stime - cpu_at_start, "cpu_workers": workers.ru_utime + workers.ru_stime,
        "cpu_machine": busy, "cpu_postgres": postgres,
        "sent": summary.sent, "failed": summary.failed, "ambiguous": summary.ambiguous,
        "skipped": dict(summary.skipped), "peak_rss_mb": peak_mb, "started_epoch": started_epoch,
        "edition_id": summary.edition_id,
    })


def edition_bodies(database_url: str, most: int = 64) -> list[tuple[str, str, str]]:
    """Up to ``most`` of the edition's rendered bodies (subject, text, html), for the floor's
    requests to carry bodies of the edition's size."""
    engine = create_engine(normalise_database_url(database_url))
    with engine.connect() as conn:
        # Through the model's columns: html and text are stored compressed (CompressedText).
        rows = conn.execute(select(RenderedBody.subject, RenderedBody.text, RenderedBody.html)
                            .order_by(RenderedBody.id).limit(most)).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def database_choice(database_url: str | None, allow_sqlite: bool) -> str | None:
    """The ``DATABASE_URL`` to run on; SQLite (or none: a temporary SQLite file) only when
    allowed, since its figures say nothing of production's PostgreSQL."""
    if database_url and make_url(normalise_database_url(database_url)).get_backend_name() == "postgresql":
        return database_url
    if not allow_sqlite:
        print(
            f"DATABASE_URL: the benchmark runs on PostgreSQL (production's database); got "
            f"{make_url(database_url).render_as_string(hide_password=True) if database_url else 'nothing'}. "
            "Set DATABASE_URL=postgresql://..., or pass --allow-sqlite for a SQLite run.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return database_url


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="One whole edition for N subscribers, timed.")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--allow-sqlite", action="store_true",
                        help="run on SQLite (DATABASE_URL, or a temporary file when unset) instead of refusing")
    args = parser.parse_args(argv)
    n = args.subscribers

    started = time.perf_counter()
    database_url = fresh_database(database_choice(os.environ.get("DATABASE_URL"), args.allow_sqlite))
    spawn = multiprocessing.get_context("spawn")
    setup = spawn.Process(target=seed, args=(database_url, n))
    setup.start()
    setup.join()
    if setup.exitcode:
        raise SystemExit("setup failed")
    backend = make_url(database_url).get_backend_name()
    print(f"setup: {n:,} subscribers, {dataset.BRIEFINGS} briefings, {dataset.VIDEOS} videos on {backend} "
          f"in {time.perf_counter() - started:.1f} s (not timed)", flush=True)

    sink = Sink()
    wal_before = wal_counters(database_url)
    try:
        results = spawn.Queue()
        edition = spawn.Process(target=timed_edition, args=(database_url, sink.url, results))
        edition.start()
        tree = TreePeak(edition.pid).start()
        r = results.get()  # sent once the worker processes and their fork server are stopped
        tree_peak_mb, tree_pss_mb = tree.stop()
        edition.join()
        received = sink.stats()
    finally:
        sink.stop()
    wal_edition = wal_line(wal_before, wal_after := wal_counters(database_url))
    # The ledger floor, on the same database once the edition is done (PostgreSQL only).
    ledger_floor, floor_postgres, floor_busy, in_batches = None, 0.0, 0.0, None
    if backend == "postgresql":
        floor_bodies = edition_bodies(database_url)
        postgres_before, busy_before = postgres_cpu_seconds(), machine_busy_seconds()
        ledger_floor = floor.measure_floor(database_url, bodies=floor_bodies, secret=SECRET_KEY)
        floor_postgres = postgres_cpu_seconds() - postgres_before
        floor_busy = machine_busy_seconds() - busy_before
        # Then the same least work, in the edition's own batches (not issue 23's floor).
        in_batches = floor.measure_floor(database_url, bodies=floor_bodies, secret=SECRET_KEY,
                                         batches_of=r["edition_id"])
    wal_floor = wal_line(wal_after, wal_counters(database_url)) if ledger_floor else "not measured"
    first_request = (received["first_request_at"] - r["started_epoch"]) if received["first_request_at"] else None

    bodies = r["bodies"]
    print(f"plan (select, render, ledger): {r['plan_seconds']:8.2f} s")
    print(f"  render: {bodies} distinct bodies, {r['render_seconds']:.2f} s summed over "
          f"{r['render_processes'] or 'no'} worker process(es) and the planner, "
          f"{1000 * r['render_seconds'] / max(bodies, 1):.1f} ms per body; CPU {r['render_cpu_seconds']:.2f} s, "
          f"{1000 * r['render_cpu_seconds'] / max(bodies, 1):.1f} ms per body (the rest: waiting for a core)")
    print(f"send ({r['batches']} batches: tokens, requests, ledger): {r['send_seconds']:8.2f} s")
    print(f"edition total:                 {r['seconds']:8.2f} s  ({r['sent'] / r['seconds']:,.0f} recipients/s)")
    if ledger_floor:
        print(f"ledger floor:                  {ledger_floor.seconds:8.2f} s  "
              f"(edition = {r['seconds'] / ledger_floor.seconds:.2f}x floor)")
        print("\n".join("  " + line for line in ledger_floor.lines()))
        print(f"  ledger floor's CPU (its set-up included): whole machine busy {floor_busy:.1f} core-seconds, "
              f"PostgreSQL {floor_postgres:.1f} s")
        print(f"the floor in the edition's {len(in_batches.requests):,} batches: {in_batches.seconds:8.2f} s  "
              f"(edition = {r['seconds'] / in_batches.seconds:.2f}x; one request per body and 1,000 readers, "
              f"measured after the floor above)")
    else:
        print("ledger floor: not measured (it is defined on PostgreSQL)")
    print(f"first request at the sink:     {first_request:8.2f} s after the edition started" if first_request is not None
          else "first request at the sink: none received")
    print(f"sent {r['sent']:,}, failed {r['failed']}, ambiguous {r['ambiguous']}, skipped {r['skipped']}")
    print(f"sink: {received['requests']} requests, {received['personalizations']:,} personalizations, "
          f"{received['bytes'] / 1e6:,.0f} MB, sink peak RSS {received['peak_rss_mb']:.0f} MB, "
          f"its CPU {received['cpu_seconds']:.2f} s")
    cores = os.cpu_count() or 1
    renders = (f" (renders {r['render_cpu_seconds']:.1f} s, the rest sending and the fork server's imports)"
               if r["render_processes"] else "")
    print(f"CPU: edition process {r['cpu_own']:.1f} s, its {r['render_processes']} render and "
          f"{r['send_processes']} send worker processes {r['cpu_workers']:.1f} s{renders}; whole machine busy "
          f"{r['cpu_machine']:.1f} of {cores * r['seconds']:.1f} core-seconds (PostgreSQL {r['cpu_postgres']:.1f} s "
          f"and the sink {received['cpu_seconds']:.1f} s included)")
    print(f"write-ahead log: the edition {wal_edition}; the floor {wal_floor}")
    print(f"peak RSS (edition process): {r['peak_rss_mb']:.0f} MB")
    print(f"peak memory of the process tree (the edition process, its fork server and worker processes, up to "
          f"{tree.most_processes} at once; RSS sampled every {tree.interval * 1000:.0f} ms, PSS at its peaks; the "
          f"sampler's CPU {tree.cpu_seconds:.2f} s): RSS summed {tree_peak_mb:.0f} MB (shared pages counted in each "
          f"process), PSS summed {tree_pss_mb:.0f} MB")
    floor_seconds = round(ledger_floor.seconds, 2) if ledger_floor else None
    in_batches_seconds = round(in_batches.seconds, 2) if ledger_floor else None
    print(json.dumps({"subscribers": n, "seconds": round(r["seconds"], 2), "floor_seconds": floor_seconds,
                      "ratio": round(r["seconds"] / ledger_floor.seconds, 2) if ledger_floor else None,
                      "floor_in_edition_batches_seconds": in_batches_seconds,
                      "first_request_seconds": round(first_request, 2) if first_request is not None else None,
                      "peak_rss_mb": round(r["peak_rss_mb"]), "tree_peak_rss_mb": round(tree_peak_mb),
                      "tree_peak_pss_mb": round(tree_pss_mb),
                      "bodies": bodies, "ms_per_body": round(1000 * r["render_seconds"] / max(bodies, 1), 1),
                      "cpu_ms_per_body": round(1000 * r["render_cpu_seconds"] / max(bodies, 1), 1)}))
    if r["failed"] or r["ambiguous"]:  # a defect, not a figure: the run says so and fails
        print(f"NOT EVERY READER WAS SENT: {r['failed']} failed, {r['ambiguous']} ambiguous (see the log above)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
