"""What the guards' state costs each batch claim after a year of counters (PostgreSQL).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/digest_guards python benchmarks/guards_state.py --editions 365

Empties the database's tables (it must be a scratch database, migrated here to head) and
writes one edition a day for ``--editions`` days ending today, each with a week of
counters (fewer for the last week's editions), as a million-reader edition's would be:

* 11 figures of its own (``item = ''``) a day: delivered ... complained, and clicks;
* ``sent`` on its date, on 16 shards (:data:`digest.report.counting.SENT_SHARDS`);
* delivered, opened and clicked for each of 12 topics, a day;
* clicks of ``--links`` clicked links (SHA-256-long items, with their URL), a day.

That is 1,745 rows an edition with a full week at 200 links: 631,738 for 365 editions
(1,905,588 for 1,095). Then VACUUM ANALYZE (the test server runs with autovacuum off; in
production autovacuum does it), and, for the last edition (one being sent while the events
of the week's others arrive): the statement of ``held_reason`` and a claim that reads the
same columns (rolled back), each run again and again for at least ``--seconds``. Printed
for each: a run's median wall time and the database backend's CPU time a run (utime +
stime of its process, read from /proc: the server runs on this machine; a parallel
worker's CPU is not in it: ``--serial`` plans without them), and the statement's EXPLAIN
(ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone

from sqlalchemy import text

from digest import db
from digest.deliver.ledger import claim_batch
from digest.models import Base
from digest.report.guards import _HELD_STATE, held_state_params

FIGURES = {"delivered": 960_000, "deferred": 20_000, "bounced": 3_000, "blocked": 2_000, "dropped": 1_000,
           "opened": 300_000, "machine_opened": 400_000, "clicked": 40_000, "clicks": 60_000,
           "unsubscribed": 800, "complained": 200}
TOPICS = ("gold", "general", "lithium", "copper", "uranium", "silver", "ev-supply-chain", "oil-gas",
          "rare-earths", "nickel", "potash", "crypto-mining")
COLUMNS = "INSERT INTO edition_counters (edition_id, day, figure, item, url, count, shard) "


def week(joined: str) -> str:
    """Each edition's days of events (a week, up to today), crossed with ``joined``."""
    return f"FROM editions e CROSS JOIN generate_series(0, 6) d CROSS JOIN {joined} WHERE e.date + d <= CURRENT_DATE"


def seed(engine, editions: int, links: int) -> int:
    figures = ", ".join(f"('{name}', {total})" for name, total in FIGURES.items())
    topics = ", ".join(f"('{slug}')" for slug in TOPICS)
    statements = [
        "INSERT INTO editions (id, date, slot, created_at) "
        "SELECT n, CURRENT_DATE - (:editions - n), 'daily', now() FROM generate_series(1, :editions) n",
        "INSERT INTO rendered_bodies (id, fingerprint, subject, preheader, created_at) VALUES (1, 'fp', 's', '', now())",
        "INSERT INTO batches (id, edition_id, number, body_id, status, attempts, readers_recorded, readers_in_doubt, "
        "created_at) VALUES (1, :editions, 1, 1, 'pending', 0, false, false, now())",
        COLUMNS + "SELECT e.id, e.date + d, f.figure, '', NULL, f.total / (d + 2), 0 "
        + week(f"(VALUES {figures}) f(figure, total)"),
        COLUMNS + "SELECT id, date, 'sent', '', NULL, 62500, s FROM editions CROSS JOIN generate_series(0, 15) s",
        COLUMNS + "SELECT e.id, e.date + d, f.figure, 'topic:' || t.slug, NULL, 1000 / (d + 1), 0 "
        + week(f"(VALUES {topics}) t(slug) CROSS JOIN (VALUES ('delivered'), ('opened'), ('clicked')) f(figure)"),
        COLUMNS + "SELECT e.id, e.date + d, 'clicks', 'url:' || lpad(to_hex(e.id * 100000 + u), 64, '0'), "
        "'https://bench.example/b/' || e.id || '/' || u, 300 / (d + 1), 0 " + week("generate_series(1, :links) u"),
    ]
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(t.name for t in Base.metadata.sorted_tables) + " CASCADE"))
        for statement in statements:
            conn.execute(text(statement), {"editions": editions, "links": links})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        return conn.execute(text("SELECT count(*) FROM edition_counters")).scalar()


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(conn, pid: int, run, seconds: float) -> str:
    walls, cpu, started = [], backend_cpu(pid), time.perf_counter()
    while time.perf_counter() - started < seconds or len(walls) < 20:
        t = time.perf_counter()
        run()
        walls.append(time.perf_counter() - t)
    cpu = backend_cpu(pid) - cpu
    return (f"{len(walls)} runs: median {statistics.median(walls) * 1000:.3f} ms wall, "
            f"backend CPU {cpu / len(walls) * 1000:.3f} ms a run")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--editions", type=int, default=365)
    parser.add_argument("--links", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-seed", action="store_true", help="time the database as it is (seeded before)")
    parser.add_argument("--serial", action="store_true",
                        help="no parallel workers (max_parallel_workers_per_gather = 0): all the CPU in the backend")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a scratch PostgreSQL database")
    engine = db.make_engine(url)
    db.upgrade(engine)
    if not args.no_seed:
        print(f"seeded {seed(engine, args.editions, args.links):,} counter rows")
    now = datetime.now(timezone.utc)
    params = {"g_edition": args.editions, **held_state_params(now)}
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        if args.serial:
            conn.execute(text("SET max_parallel_workers_per_gather = 0"))
            conn.commit()
        indexes = conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'edition_counters'")).scalars()
        print("edition_counters indexes:", ", ".join(sorted(indexes)))
        compiled = _HELD_STATE.compile(engine)
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.construct_params(params))
        print("\n".join(row[0] for row in plan))
        print("guards' statement:", timed(conn, pid, lambda: conn.execute(_HELD_STATE, params).one(), args.seconds))

        def claim():
            claimed = claim_batch(conn, 1, "bench:1:1", now=now, commit=False, provider="sendgrid")
            assert claimed is not None
            conn.rollback()

        print("claim reading the guards:", timed(conn, pid, claim, args.seconds))
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
