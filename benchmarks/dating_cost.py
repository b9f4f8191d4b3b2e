"""What dating a batch's copy of its body costs: :func:`digest.deliver.dates.dated_for_zones`
for every batch of a planned edition, once each, as a sender meets them.

    DATABASE_URL=postgresql://... python benchmarks/batch_cost.py --subscribers 100000 --rounds 1   # plans it
    DATABASE_URL=postgresql://... python benchmarks/dating_cost.py [--passes N]

Setup (not timed): every stored body (decompressed) and each batch's set of zones, read
from ``DATABASE_URL`` (``batch_cost.py``'s template), and the label functions imported.
Timed: ``--passes`` passes (default 1) over the batches in id order, each with fresh
caches (the module loaded again), at one sending minute. Prints CPU per batch. With
``--passes 0`` it does only the setup: under ``valgrind --tool=callgrind``, a run with one
pass less a run with none is the dating's instruction count, which the machine's load does
not move (``main``'s code: its ``src/`` first on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from datetime import datetime, timezone

import psycopg

import digest.select.labels  # noqa: F401  (stamp_label imports it on first use: not timed)
from digest.content import RenderedEmail, tokens_in
from digest.models.compressed import decompress_text
from digest.settings import normalise_database_url

SENDING_MINUTE = datetime(2026, 12, 6, 18, 0, tzinfo=timezone.utc)


def batches(database_url: str) -> list[tuple[RenderedEmail, set[str]]]:
    """Each batch's body and its readers' zones, in batch id order."""
    with psycopg.connect(database_url) as conn:
        bodies = {}
        for body_id, subject, preheader, html, text in conn.execute(
                "SELECT id, subject, preheader, html, text FROM rendered_bodies WHERE html IS NOT NULL"):
            html, text = decompress_text(html), decompress_text(text)
            bodies[body_id] = RenderedEmail(subject, preheader, html, text,
                                            frozenset(tokens_in(subject) | tokens_in(html) | tokens_in(text)))
        zones: dict[tuple[int, int], set[str]] = {}
        for batch_id, body_id, zone in conn.execute(
                "SELECT b.id, b.body_id, d.timezone FROM batches b JOIN deliveries d ON d.batch_id = b.id"
                " ORDER BY b.id"):
            zones.setdefault((batch_id, body_id), set()).add(zone)
    return [(bodies[body_id], batch_zones) for (_, body_id), batch_zones in zones.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="dated_for_zones for every batch of a planned edition.")
    parser.add_argument("--passes", type=int, default=1)
    args = parser.parse_args(argv)
    work = batches(normalise_database_url(os.environ["DATABASE_URL"]).replace("postgresql+psycopg", "postgresql"))
    for number in range(1, args.passes + 1):
        dates = importlib.reload(importlib.import_module("digest.deliver.dates"))  # its caches fresh
        started = time.process_time()
        for body, zones in work:
            dates.dated_for_zones(body, zones, SENDING_MINUTE)
        spent = time.process_time() - started
        print(f"pass {number}: {len(work)} batches, {1000 * spent / len(work):.3f} ms CPU per batch", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
