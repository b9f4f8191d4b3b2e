"""``benchmarks/alternate.py``: two versions' whole editions, alternated, and their medians."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fakes.benchmarks import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _run(seconds, floor, in_batches, first, rss):
    return {"seconds": seconds, "floor_seconds": floor, "floor_in_edition_batches_seconds": in_batches,
            "first_request_seconds": first, "peak_rss_mb": rss}


def test_a_figure_a_run_does_not_have_is_left_out_of_its_line():
    runs = {"base": [_run(10.0, 2.0, 4.0, None, 150), _run(12.0, 4.0, 6.0, 3.0, 170)],
            "this": [_run(9.0, 3.0, 4.5, None, 140)]}
    lines = load_benchmark("alternate").summary(runs)
    assert lines[5] == "first request (s)          base 3.00 (3.00-3.00)   this -"
    assert lines[0] == "edition (s)                base 11.00 (10.00-12.00)   this 9.00 (9.00-9.00)"


def test_the_summary_is_each_versions_median_and_range():
    runs = {"base": [_run(10.0, 2.0, 4.0, 1.0, 150), _run(12.0, 4.0, 6.0, 3.0, 170), _run(11.0, 2.0, 5.0, 2.0, 160)],
            "this": [_run(9.0, 3.0, 4.5, 1.5, 140)]}
    lines = load_benchmark("alternate").summary(runs)
    # Worked out by hand: base ratios 5.0, 3.0, 5.5 and 2.5, 2.0, 2.2 to the floor in its batches.
    assert lines == [
        "edition (s)                base 11.00 (10.00-12.00)   this 9.00 (9.00-9.00)",
        "floor (s)                  base 2.00 (2.00-4.00)   this 3.00 (3.00-3.00)",
        "ratio                      base 5.00 (3.00-5.50)   this 3.00 (3.00-3.00)",
        "floor in its batches (s)   base 5.00 (4.00-6.00)   this 4.50 (4.50-4.50)",
        "ratio to that              base 2.20 (2.00-2.50)   this 2.00 (2.00-2.00)",
        "first request (s)          base 2.00 (1.00-3.00)   this 1.50 (1.50-1.50)",
        "peak RSS (MB)              base 160.00 (150.00-170.00)   this 140.00 (140.00-140.00)",
    ]


@pytest.mark.postgres
def test_a_round_runs_the_base_then_this_checkout_and_leaves_nothing(postgres_url, monkeypatch, capsys):
    name = f"digest_alternate_{uuid.uuid4().hex[:10]}"
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)

    # Every what-if patch is applied (one that no longer applies to the code fails here).
    requests, renders = (ROOT / "benchmarks" / "whatif" / f"free_{part}.patch" for part in ("requests", "renders"))
    assert load_benchmark("alternate").main(["--base", "HEAD", "--patch", str(requests), "--patch", str(renders),
                                             "--subscribers", "300", "--rounds", "1"]) == 0

    lines = capsys.readouterr().out.splitlines()
    runs = [line for line in lines if line.startswith("round ")]
    assert [line.split(": ", 1)[0] for line in runs] == ["round 1, base", "round 1, this"]
    base, this = (json.loads(line.split(": ", 1)[1]) for line in runs)
    for figures in (base, this):
        assert figures["subscribers"] == 300 and figures["floor_seconds"] > 0
    # The base ran patched: its requests cost nothing and reached no sink; this checkout's did.
    assert base["first_request_seconds"] is None and this["first_request_seconds"] > 0
    assert lines[-8] == f"300 readers, 1 round(s); base = HEAD with {requests} and {renders}, this = the checkout:"
    assert lines[-7].startswith("edition (s)                base ")
    assert lines[-2].startswith("first request (s)          base -   this ")
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "digest-alternate-" not in worktrees.stdout
    admin = create_engine(make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}).scalar() == 0
    admin.dispose()
