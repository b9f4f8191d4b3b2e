"""A render worker's CPU a body, on the selections a real edition submits.

    DATABASE_URL=postgresql://... python benchmarks/render_bodies.py capture FILE [--subscribers 100000]
    python benchmarks/render_bodies.py run FILE [--profile N] [--hash]

``capture``: the edition workload of ``benchmarks/edition.py`` for N readers in a fresh
database (``DATABASE_URL``, PostgreSQL, dropped and created again), planned as a dry run
(nothing written, renders in this process); every selection handed to
``EditionBodies.submit`` is kept, in order, and pickled to FILE with the publication's
config.

``run``: in this process, one fresh ``IsolatingRenderer(Renderer(config))`` (a new render
worker) renders each selection of FILE through ``_render_in_worker``, exactly what a render
worker does (fingerprint and compressed parts included). Printed: the thread CPU time a
body (the renderer's construction not counted, as a worker builds it before its first
render), and with ``--hash`` one SHA-256 over every body's subject, preheader, html and text
(decompressed; and what a body left out, or its error): the same hash before and after a
change to the render means the same bytes out. ``--profile N``: the N costliest functions
under cProfile (which slows the pass; shares only). Run each pass in a fresh process: the
render's caches are per process, as a worker's are.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import logging
import pickle
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def capture(path: Path, subscribers: int) -> None:
    import batch_cost  # noqa: PLC0415  (benchmarks/ is not a package)
    import dataset  # noqa: PLC0415
    import edition  # noqa: PLC0415

    from digest.deliver.plan import bodies, plan_edition  # noqa: PLC0415
    from digest.deliver.run import EditionRun  # noqa: PLC0415
    from digest.models import Edition  # noqa: PLC0415

    submitted = []
    submit = bodies.EditionBodies.submit

    def keep(self, fingerprint, selection):
        if fingerprint not in self._done and fingerprint not in self._pending:
            submitted.append(selection)
        return submit(self, fingerprint, selection)

    bodies.EditionBodies.submit = keep
    template = edition.template_database(subscribers, reuse=False)
    runtime = batch_cost.open_runtime(template)
    try:
        plan_edition(runtime, Edition(date=dataset.EDITION_DATE, slot="daily"), EditionRun(dataset.NOW, dry_run=True),
                     max_recipients=1000, render_processes=0)
        config = runtime.settings.config
    finally:
        runtime.close()
    path.write_bytes(pickle.dumps({"config": config, "selections": submitted}, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"{len(submitted):,} selections kept in {path}")


def _digest(outcome, into) -> None:
    """A worker's outcome into the hash: a body as a worker hands it back (its stored
    form: html and text compressed) is hashed decompressed, so a change of compression
    alone keeps the hash; its tokens are read off its html and text, so they are in it."""
    from digest.models.compressed import decompress_text  # noqa: PLC0415

    rendered = outcome.rendered
    if rendered is None:
        into.update(repr(("failed", outcome.error, outcome.left_out)).encode())
        return
    for value in (rendered.subject, rendered.preheader, decompress_text(rendered.html),
                  decompress_text(rendered.text), repr(outcome.left_out)):
        into.update(value.encode())
        into.update(b"\0")


def run(path: Path, profile: int, with_hash: bool) -> None:
    from digest.deliver.plan import bodies  # noqa: PLC0415
    from digest.render import Renderer  # noqa: PLC0415
    from digest.render.isolation import IsolatingRenderer  # noqa: PLC0415

    kept = pickle.loads(path.read_bytes())
    selections = kept["selections"]
    bodies._worker_renderer = IsolatingRenderer(Renderer(kept["config"]))
    profiler = cProfile.Profile() if profile else None
    outcomes, cpu = [], 0.0
    if profiler:
        profiler.enable()
    for selection in selections:
        outcome, _, cpu_seconds = bodies._render_in_worker(selection)
        outcomes.append(outcome)
        cpu += cpu_seconds
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
    line = f"{len(selections):,} bodies: thread CPU {cpu:.3f} s, {1000 * cpu / len(selections):.3f} ms a body"
    if with_hash:
        total = hashlib.sha256()
        for outcome in outcomes:
            _digest(outcome, total)
        line += f"; hash {total.hexdigest()}"
    print(line, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    capturing = commands.add_parser("capture")
    capturing.add_argument("file", type=Path)
    capturing.add_argument("--subscribers", type=int, default=100_000)
    running = commands.add_parser("run")
    running.add_argument("file", type=Path)
    running.add_argument("--profile", type=int, default=0, metavar="N")
    running.add_argument("--hash", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)  # the budget logs each fit at INFO
    if args.command == "capture":
        capture(args.file, args.subscribers)
    else:
        run(args.file, args.profile, args.hash)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
