"""What one batch costs the send path: statements, commits, CPU and wall time per batch.

    DATABASE_URL=postgresql://... python benchmarks/batch_cost.py --subscribers 30000 --rounds 3

Setup (not timed): a fresh database (``DATABASE_URL``, PostgreSQL; dropped and created
again), the edition workload of ``benchmarks/edition.py`` for N readers, and the edition
planned through :func:`digest.deliver.send_edition` with a provider that halts at its
first batch, so every batch is left pending. That database becomes the template of each
round's copy.

Timed, in each round on a fresh copy: every pending batch sent one after another in this
process through :func:`digest.deliver.batch.send_batch` (claim, recipients, tokens, the
guards, settle), on one connection kept from batch to batch as a runner's sending
thread keeps it (``ThreadLedgers``), to a provider that takes every recipient at once and
does nothing else, so what is left is the send path's own work and its database round trips. Statements are
counted on the driver's cursors (SQLAlchemy's and those :func:`digest.db.fetch_tuples`
runs on the driver's own cursor alike, and the pool's ping at a checkout; an
executemany counts once; the driver's implicit BEGIN is not counted), commits on the
engine; the PostgreSQL backends' CPU time for the same loop is read from /proc (the
server must run on this machine). (Before, statements were counted on SQLAlchemy's cursor events, which see neither
the ping nor ``fetch_tuples``: 5.99 then is 8.99 now, same code.)
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import edition  # noqa: E402

from digest.deliver import send_edition  # noqa: E402
from digest.deliver.batch import Sender, send_batch  # noqa: E402
from digest.deliver.ledger.connection import ThreadLedgers  # noqa: E402
from digest.deliver.providers import ProviderError, SendResult  # noqa: E402
from digest.models import Batch, BatchStatus  # noqa: E402
from digest.runtime import Runtime  # noqa: E402
from digest.settings import load_settings, normalise_database_url  # noqa: E402


class HaltsAtOnce:
    """Plans the edition and sends nothing: its first batch goes back to the queue."""

    name = "sendgrid"
    max_recipients = 1000

    def send(self, outgoing):
        raise ProviderError("batch_cost: plan only", halt=True)

    def close(self) -> None:
        pass


class TakesEveryone(HaltsAtOnce):
    def send(self, outgoing):
        return SendResult(message_id="batch-cost")


COUNTED = {"statements": 0, "commits": 0}


class CountingCursor(psycopg.Cursor):
    """Counts every statement the send path runs on a connection of the engine."""

    def execute(self, *args, **kwargs):
        COUNTED["statements"] += 1
        return super().execute(*args, **kwargs)

    def executemany(self, *args, **kwargs):
        COUNTED["statements"] += 1
        return super().executemany(*args, **kwargs)


#: The PostgreSQL backends (server processes) of the connections the send path checked out.
BACKENDS: set[int] = set()


def _count_on(dbapi_connection, *_):
    dbapi_connection.cursor_factory = CountingCursor
    BACKENDS.add(dbapi_connection.info.backend_pid)


def backend_cpu(pids) -> dict[int, float]:
    """CPU seconds (user + system) each PostgreSQL backend has used so far, from /proc: the
    server runs on this machine, and each connection is one backend process, so its CPU
    is the server's work for the statements sent on it (0 where it cannot be read)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            used[pid] = 0.0
    return used


#: The send path's steps whose CPU ``--phases`` prints: (module, attribute, label). Nested
#: steps are inside their callers' figures (the dated body inside the outgoing batch).
PHASES = (
    ("digest.deliver.batch", "claim_batch", "claim"),
    ("digest.deliver.batch", "queued_recipients", "recipients' rows"),
    ("digest.deliver.batch", "build_outgoing", "outgoing batch"),
    ("digest.deliver.recipients", "_recipients", "  tokens and headers"),
    ("digest.deliver.batch", "held_verdict held_reason", "guards"),  # the first the code has
    ("digest.deliver.batch", "settle_batch", "settle"),
    ("digest.deliver.ledger.claims", "count_sent", "  sent counter"),
)


def time_phases() -> dict[str, list[float]]:
    """Wrap each of :data:`PHASES` to add up its CPU time (and calls) from now on."""
    import functools
    import importlib

    spent: dict[str, list[float]] = {}

    def wrap(owner, attribute: str, label: str) -> None:
        """``owner.attribute`` replaced by the same callable adding its CPU time and calls to ``spent[label]``."""
        attribute = next((name for name in attribute.split() if hasattr(owner, name)), attribute)
        step, spent[label] = getattr(owner, attribute), [0.0, 0]

        @functools.wraps(step)
        def timed(*args, __step=step, __spent=spent[label], **kwargs):
            started = time.process_time()
            try:
                return __step(*args, **kwargs)
            finally:
                __spent[0] += time.process_time() - started
                __spent[1] += 1
        setattr(owner, attribute, timed)

    for module_name, attribute, label in PHASES:
        wrap(importlib.import_module(module_name), attribute, label)
    dated = importlib.import_module("digest.deliver.recipients")._dated_bodies
    for attribute, label in (("get", "  dated body"), ("body", "    body read")):
        wrap(dated, attribute, label)
    order = [label for _, _, label in PHASES]
    order[order.index("  tokens and headers"):order.index("  tokens and headers")] = ["  dated body", "    body read"]
    return {label: spent[label] for label in order}


def open_runtime(database_url: str) -> Runtime:
    env = edition.environment(database_url, "http://127.0.0.1:9")  # the provider is this module's
    return Runtime.open(load_settings(env | {"DIGEST_SEND_PROCESSES": "1", "DIGEST_SEND_CONCURRENCY": "1"}))


def copy_database(template_url: str, name: str) -> str:
    """A fresh copy of the template database, named ``name``; its URL."""
    url = make_url(template_url).set(database=name).render_as_string(hide_password=False)
    return edition.recreate_database(url, template_url=template_url)


def one_round(database_url: str, profile: str | None = None, phases: bool = False) -> str:
    runtime = open_runtime(database_url)
    try:
        with runtime.session() as session:
            pending = list(session.scalars(select(Batch.id).where(Batch.status == BatchStatus.PENDING)
                                           .order_by(Batch.id)))
        sender = Sender.open(runtime, TakesEveryone())
        event.listen(runtime.engine.pool, "checkout", _count_on)
        event.listen(runtime.engine, "commit", lambda *_: COUNTED.update(commits=COUNTED["commits"] + 1))
        ledgers = ThreadLedgers(runtime.engine)  # the sending thread's connection, as the runners keep it
        ledger = ledgers.for_this_thread()
        send_batch(sender, pending.pop(0), ledger)  # statements compiled, the connection open: not timed
        COUNTED.update(statements=0, commits=0)
        spent = time_phases() if phases else {}
        server_before = backend_cpu(BACKENDS)
        profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not waits
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        sent = sum(send_batch(sender, batch_id, ledger).sent for batch_id in pending)
        if profiler is not None:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        server_after = backend_cpu(BACKENDS)
        server = sum(used - server_before.get(pid, 0.0) for pid, used in server_after.items())
        BACKENDS.clear()
        if profiler is not None:
            profiler.dump_stats(profile)
        ledgers.close()
    finally:
        runtime.close()
    n = max(len(pending), 1)
    per_reader = 1e6 * cpu / max(sent, 1)
    split = "".join(f"\n  {label:<22} {1000 * seconds / n:6.3f} ms CPU per batch" for label, (seconds, _) in spent.items())
    return (f"{len(pending)} batches, {sent:,} readers sent; per batch: {COUNTED['statements'] / n:.2f} statements, "
            f"{COUNTED['commits'] / n:.2f} commits, {1000 * wall / n:.2f} ms wall, {1000 * cpu / n:.2f} ms CPU; "
            f"{1000 * server / n:.2f} ms server CPU ({len(server_after)} backend(s)); "
            f"{per_reader:.1f} us CPU per reader, {1e6 * (cpu + server) / max(sent, 1):.1f} with the server's" + split)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The send path's cost per batch, on PostgreSQL.")
    parser.add_argument("--subscribers", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the timed loop of each round into FILE "
                        "(overwritten each round; the per-batch figures then include the profiler's overhead)")
    parser.add_argument("--phases", action="store_true",
                        help="also print each step's CPU per batch (steps wrapped in a timer: about 1 us each)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the planned database of an earlier run with the same DATABASE_URL (no setup)")
    args = parser.parse_args(argv)
    template = edition.template_database(args.subscribers, reuse=args.reuse)
    if not args.reuse:
        runtime = open_runtime(template)
        try:
            send_edition(runtime, HaltsAtOnce(), dataset.EDITION_DATE, now=dataset.NOW)
        finally:
            runtime.close()
    copy_name = make_url(normalise_database_url(template)).database + "_round"
    for round_number in range(1, args.rounds + 1):
        outcome = one_round(copy_database(template, copy_name), args.profile, args.phases).split("\n", 1)
        print(f"round {round_number}: {outcome[0]}; {os.popen('uptime').read().strip()}", *outcome[1:], sep="\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
