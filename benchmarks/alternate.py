"""Whole editions of two versions of the code, alternated, on PostgreSQL.

    DATABASE_URL=postgresql://.../NAME python benchmarks/alternate.py --base REV --subscribers N [--rounds R] [--patch FILE]

A machine of this kind moves by a third within minutes (the same code's million-reader
edition 32 to 40 s in one session), so a change shows in a whole edition only against the
code before it, measured in the same minutes. Each round runs ``benchmarks/edition.py``
(this checkout's) twice: once with the code of ``REV`` (a git worktree made for the run,
its ``src/`` first on ``PYTHONPATH``, so its templates too) and once with this checkout's;
the base goes first in odd rounds and second in even ones. Every run is on the database
``DATABASE_URL`` names, which ``edition.py`` drops and creates again; it is dropped at the
end. Printed: each run's figures as it ends (``edition.py``'s JSON line), then for each
version the median and range of the edition's time, the floor's, their ratio, the floor in
the edition's own batches and the ratio to it, the first request and the edition
process's peak RSS. A run that did not send every reader stops everything (``edition.py``
says why): a defect, not a figure.

``REV`` must have the modules ``edition.py`` imports (its benchmark code is this
checkout's, the code under it ``REV``'s).

``--patch FILE`` (again for more) applies a patch (``git apply``) to the base's worktree
first: a what-if from ``benchmarks/whatif/`` (a SendGrid request that costs nothing, one
render for the whole edition), measured against the same revision unpatched (``--base
HEAD``). A figure a run cannot have (no first request when nothing reaches the
sink) is left out of its version's line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from digest.settings import normalise_database_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edition import drop_database  # noqa: E402  (benchmarks/ is not a package)

ROOT = Path(__file__).resolve().parents[1]
EDITION = Path(__file__).resolve().parent / "edition.py"
#: (label, how a run's figure is read from its JSON line) in the order printed.
FIGURES = (
    ("edition (s)", lambda run: run["seconds"]),
    ("floor (s)", lambda run: run["floor_seconds"]),
    ("ratio", lambda run: run["seconds"] / run["floor_seconds"]),
    ("floor in its batches (s)", lambda run: run["floor_in_edition_batches_seconds"]),
    ("ratio to that", lambda run: run["seconds"] / run["floor_in_edition_batches_seconds"]),
    ("first request (s)", lambda run: run["first_request_seconds"]),
    ("peak RSS (MB)", lambda run: run["peak_rss_mb"]),
)


def summary(runs: dict[str, list[dict]]) -> list[str]:
    """One line a figure: for each version its median and range over its runs."""
    lines = []
    for label, figure in FIGURES:
        cells = []
        for version, kept in runs.items():
            values = [value for run in kept if (value := figure(run)) is not None]
            if not values:
                cells.append(f"{version} -")
                continue
            cells.append(f"{version} {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        lines.append(f"{label:<26} " + "   ".join(cells))
    return lines


def run_edition(subscribers: int, database_url: str, src: Path | None) -> dict:
    """``edition.py`` for ``subscribers`` readers, with ``src`` first on the path (None: this
    checkout's code); its JSON line."""
    env = dict(os.environ, DATABASE_URL=database_url)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(src), os.environ.get("PYTHONPATH"))))
    done = subprocess.run([sys.executable, str(EDITION), "--subscribers", str(subscribers)], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"edition.py failed (exit status {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision to measure against (a commit, a branch)")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--patch", type=Path, action="append", default=[],
                        help="a patch applied to the base's worktree (a what-if); may be given again")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url or make_url(normalise_database_url(database_url)).get_backend_name() != "postgresql":
        print("DATABASE_URL: a PostgreSQL database to use (dropped and created for each run)", file=sys.stderr)
        return 2
    runs: dict[str, list[dict]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="digest-alternate-") as scratch:
        worktree = Path(scratch) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(worktree), args.base], cwd=ROOT,
                       check=True)
        try:
            for patch in args.patch:
                subprocess.run(["git", "apply", str(patch.resolve())], cwd=worktree, check=True)
            for round_number in range(1, args.rounds + 1):
                order = ("base", "this") if round_number % 2 else ("this", "base")
                for version in order:
                    run = run_edition(args.subscribers, database_url, worktree / "src" if version == "base" else None)
                    runs[version].append(run)
                    print(f"round {round_number}, {version}: {json.dumps(run)}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
            drop_database(database_url)
    base = " with ".join([args.base, " and ".join(map(str, args.patch))] if args.patch else [args.base])
    print(f"{args.subscribers:,} readers, {args.rounds} round(s); base = {base}, this = the checkout:")
    print("\n".join(summary(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
