"""What planning alone costs: the planner's CPU and PostgreSQL's, per reader.

    DATABASE_URL=postgresql://... python benchmarks/plan_cost.py --subscribers 200000 --rounds 3 [--profile N]

Setup (not timed): a fresh database (``DATABASE_URL``, PostgreSQL; dropped and created
again) with the edition workload of ``benchmarks/edition.py`` for N readers and nobody
planned; it becomes the template of each round's copy. Every distinct selection is
rendered once, in this process, by the real renderer during a dry-run plan, and kept.

Timed, in each round on a fresh copy: :func:`digest.deliver.plan.plan_edition`, exactly
as ``digest send`` calls it (every reader, the ledger written, batches of 1,000), with a
renderer that hands back the body kept for the selection, so the time is the planner's
own (reading readers, selecting, building and writing the ledger rows and bodies), not
the renders', which run in worker processes in an edition. Printed: wall time, this
process's CPU time (its writer thread included), the CPU time of the PostgreSQL backends
that served it (their ``/proc`` counters, read with psutil before the connections
close; the server's shared processes, WAL writer and checkpointer, are not counted), and
both per reader. ``--profile N``: the round's N costliest functions under cProfile
(cumulative), which slows the round.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

import psutil
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import batch_cost  # noqa: E402  (benchmarks/ is not a package)
import dataset  # noqa: E402
import edition  # noqa: E402

from digest.deliver.ledger import get_or_create_edition  # noqa: E402
from digest.deliver.plan import plan_edition  # noqa: E402
from digest.deliver.run import EditionRun  # noqa: E402
from digest.models import Edition  # noqa: E402
from digest.models.compressed import compressed_parts  # noqa: E402
from digest.settings import normalise_database_url  # noqa: E402


class KeptBodies:
    """Renders with the real renderer the first time (the set-up's dry run), and hands
    the same body back for that selection afterwards."""

    def __init__(self, config) -> None:
        from digest.render import Renderer

        self._renderer = Renderer(config)
        self.bodies: dict[str, object] = {}

    def render(self, selection):
        key = selection.fingerprint()
        body = self.bodies.get(key)
        if body is None:
            body = self.bodies[key] = self._renderer.render(selection)
            body.fingerprint  # noqa: B018  computed and compressed where an edition renders it, a worker
            compressed_parts(body)
        return body


def backend_cpu(runtime) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to this database."""
    with runtime.engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _profile_writes() -> cProfile.Profile:
    """A profiler of the plan's writes, on the writer thread (cProfile sees one thread)."""
    from digest.deliver.plan.writer import BatchWriter

    profiler = cProfile.Profile()
    write = getattr(BatchWriter._write, "__wrapped__", BatchWriter._write)

    def profiled(self, *args):
        profiler.enable()
        try:
            return write(self, *args)
        finally:
            profiler.disable()

    profiled.__wrapped__ = write
    BatchWriter._write = profiled
    return profiler


#: What ``--phases`` times (module, function): each call's CPU time on its own thread.
PHASES = (("digest.deliver.plan.readers", "_load_chunk"), ("digest.deliver.plan.planner", "_select_chunk"),
          ("digest.select.selector", "Selector._compute"), ("digest.content", "Selection.fingerprint"),
          ("digest.deliver.plan.writer", "BatchWriter._write"), ("digest.deliver.plan.writer", "store_bodies"),
          ("digest.deliver.plan.writer", "write_batches"),
          ("digest.deliver.plan.rows", "insert_deliveries"))


def _time_phases() -> dict[str, float]:
    """Wraps each of :data:`PHASES` to add up its calls' thread CPU time (nested phases
    count in both)."""
    import functools
    import importlib

    spent: dict[str, float] = {}
    for module_name, name in PHASES:
        owner = importlib.import_module(module_name)
        *outer, attribute = name.split(".")
        for part in outer:
            owner = getattr(owner, part)
        function = getattr(owner, attribute)
        spent[name] = 0.0

        def timed(*args, _function=function, _name=name, **kwargs):
            started = time.thread_time()
            try:
                return _function(*args, **kwargs)
            finally:
                spent[_name] += time.thread_time() - started

        setattr(owner, attribute, functools.wraps(function)(timed))
    return spent


def one_round(database_url: str, renderer: KeptBodies, profile: int, phases: dict | None = None,
              chunk_size: int | None = None) -> str:
    runtime = batch_cost.open_runtime(database_url)
    try:
        with runtime.session() as session:
            planned = get_or_create_edition(session, dataset.EDITION_DATE)
        backend_before = backend_cpu(runtime)
        profiler = cProfile.Profile() if profile else None
        writes = _profile_writes() if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        sized = {"chunk_size": chunk_size} if chunk_size else {}
        summary = plan_edition(runtime, planned, EditionRun(dataset.NOW), renderer=renderer, max_recipients=1000, **sized)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        backend = backend_cpu(runtime) - backend_before
    finally:
        runtime.close()
    if profiler:
        print("planning thread:")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
        print("writer thread:")
        pstats.Stats(writes).sort_stats("cumulative").print_stats(profile)
    n = max(summary.queued, 1)
    if phases:
        print("  thread CPU per phase (us a reader): " + ", ".join(f"{name} {1e6 * seconds / n:.1f}"
                                                              for name, seconds in phases.items()))
        phases.update(dict.fromkeys(phases, 0.0))
    return (f"{summary.queued:,} queued in {summary.batches:,} batches: wall {wall:.2f} s, planner CPU {cpu:.2f} s "
            f"({1e6 * cpu / n:.1f} us a reader), PostgreSQL backends' CPU {backend:.2f} s ({1e6 * backend / n:.1f} us a reader)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Planning's own cost per reader, on PostgreSQL.")
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--chunk-size", type=int, help="readers per chunk (default: plan_edition's)")
    parser.add_argument("--phases", action="store_true", help="print the thread CPU time of the planner's parts")
    parser.add_argument("--reuse", action="store_true",
                        help="plan from the template a previous run left (same --subscribers), not a new one")
    args = parser.parse_args(argv)
    template = edition.template_database(args.subscribers, reuse=args.reuse)
    runtime = batch_cost.open_runtime(template)
    renderer = KeptBodies(runtime.settings.config)
    try:  # every distinct selection rendered once, nothing written
        plan_edition(runtime, Edition(date=dataset.EDITION_DATE, slot="daily"), EditionRun(dataset.NOW, dry_run=True),
                     renderer=renderer, max_recipients=1000)
    finally:
        runtime.close()
    phases = _time_phases() if args.phases else None
    copy_name = make_url(normalise_database_url(template)).database + "_round"
    for round_number in range(1, args.rounds + 1):
        copy = batch_cost.copy_database(template, copy_name)
        print(f"round {round_number}: {one_round(copy, renderer, args.profile, phases, args.chunk_size)}; "
              f"{os.popen('uptime').read().strip()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
