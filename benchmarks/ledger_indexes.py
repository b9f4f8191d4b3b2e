"""What each index of ``deliveries`` costs the planner's INSERT, on PostgreSQL.

    python benchmarks/ledger_indexes.py --database ledgerindex_bench --rows 1000000 \
        --prior 0 --variants full,no_batch_ix,... --rounds 2

Setup (not timed): a scratch database (dropped and created again) with ``subscribers``
(id key and an address) of ``--rows`` readers. Then, per variant and round, in turn
(variant A, B, ..., A, B, ...): ``deliveries`` created again in that variant's shape,
``--prior`` earlier editions' rows (every reader queued) loaded, ``VACUUM ANALYZE``,
``CHECKPOINT``; timed: the edition's rows written the way ``write_batches`` writes them
(``digest.deliver.plan.rows._PG_INSERT_DELIVERIES`` for queued rows: 20,000-row
statements, the ids sent as text, each reader looked up in ``subscribers`` for its
address and zone, one transaction per statement with the erasure lock), 1,000 readers a
batch, in subscriber order (a batch's readers together, as the planner writes them, when
each batch is a run of consecutive ids). Printed per run: the
backend's CPU time (psutil, INSERTs and COMMITs), wall time, the statements' own WAL
(``EXPLAIN (ANALYZE, WAL)``: records, full-page images, bytes; this backend's alone) and
the server's WAL position moved (every database's writes, other sessions' included).
"""

from __future__ import annotations

import argparse
import json
import time

import psutil
import psycopg

from digest.deliver.ledger.erasure import ERASURE_LOCK
from digest.deliver.plan.rows import _ADDRESSED, _PG_INSERT_DELIVERIES

COLUMNS = """
    id BIGSERIAL NOT NULL, edition_id BIGINT NOT NULL, subscriber_id BIGINT NOT NULL, batch_id BIGINT,
    status VARCHAR(20) NOT NULL, skip_reason VARCHAR(40), timezone VARCHAR(64), email VARCHAR(320),
    error TEXT, refused BOOLEAN DEFAULT false NOT NULL, provider_message_id VARCHAR(200),
    settled_by VARCHAR(300), created_at TIMESTAMP WITH TIME ZONE NOT NULL, sent_at TIMESTAMP WITH TIME ZONE
"""
PK = "ALTER TABLE deliveries ADD CONSTRAINT pk_deliveries PRIMARY KEY (id)"
UNIQUE = "ALTER TABLE deliveries ADD CONSTRAINT uq_deliveries_subscriber_id UNIQUE (subscriber_id, edition_id)"
UNIQUE_ED = "ALTER TABLE deliveries ADD CONSTRAINT uq_deliveries_edition_id UNIQUE (edition_id, subscriber_id)"
BATCH_IX = "CREATE INDEX ix_deliveries_batch_id ON deliveries (batch_id)"
EDITION_IX = "CREATE INDEX ix_deliveries_edition_id ON deliveries (edition_id)"
SUBSCRIBER_IX = "CREATE INDEX ix_deliveries_subscriber_id ON deliveries (subscriber_id)"

#: Each variant: (id column as in the model?, the constraints and indexes).
VARIANTS = {
    "full": (True, [PK, UNIQUE, BATCH_IX, EDITION_IX]),
    "no_batch_ix": (True, [PK, UNIQUE, EDITION_IX]),
    "no_edition_ix": (True, [PK, UNIQUE, BATCH_IX]),
    "no_unique": (True, [PK, BATCH_IX, EDITION_IX]),
    "no_pk": (True, [UNIQUE, BATCH_IX, EDITION_IX]),  # the sequence still fills id
    "no_id": (False, [UNIQUE, BATCH_IX, EDITION_IX]),  # no column, no sequence, no key
    "ed_sub_key": (True, [PK, UNIQUE_ED, BATCH_IX]),  # key (edition, subscriber); no edition index
    "ed_sub_key_sub_ix": (True, [PK, UNIQUE_ED, BATCH_IX, SUBSCRIBER_IX]),
    "floor_like": (False, [UNIQUE, BATCH_IX]),
}
STATEMENT_ROWS = 20_000
BATCH = 1_000
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"]


def setup(admin_url: str, database: str, rows: int) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database}")
        conn.execute(f"CREATE DATABASE {database}")
    with psycopg.connect(admin_url, dbname=database, autocommit=True) as conn:
        conn.execute("CREATE TABLE subscribers (id BIGSERIAL PRIMARY KEY, email VARCHAR(320) NOT NULL UNIQUE, "
                     "timezone VARCHAR(64) NOT NULL)")
        # The zones of benchmarks/dataset.py's first four, as the readers' rows take them.
        conn.execute("INSERT INTO subscribers (email, timezone) SELECT 'reader' || n || '@example.com', "
                     "(%s::varchar[])[n %% 4 + 1] FROM generate_series(1, %s) AS n", (ZONES, rows))
        conn.execute("VACUUM ANALYZE subscribers")


def prepare(conn, variant: str, rows: int, prior: int) -> None:
    with_id, ddl = VARIANTS[variant]
    columns = COLUMNS if with_id else COLUMNS.replace("id BIGSERIAL NOT NULL,", "", 1)
    conn.execute("DROP TABLE IF EXISTS deliveries")
    conn.execute(f"CREATE TABLE deliveries ({columns}) WITH (fillfactor = 50)")
    for statement in ddl:
        conn.execute(statement)
    for edition in range(1, prior + 1):  # earlier editions: every reader queued, then sent
        conn.execute("INSERT INTO deliveries (edition_id, subscriber_id, batch_id, status, timezone, email, "
                     "created_at, sent_at) SELECT %s, id, %s * 10000 + (id - 1) / %s, 'sent', 'UTC', email, "
                     "now(), now() FROM subscribers", (edition, edition, BATCH))
    conn.execute("VACUUM ANALYZE deliveries")
    conn.execute("CHECKPOINT")


def wal_of(plan_json) -> tuple[int, int, int]:
    """The statement's WAL: the largest node's (each node's counts include its children's)."""
    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)
    node = max(nodes(plan_json[0]["Plan"]), key=lambda n: n.get("WAL Bytes", 0))
    return node.get("WAL Records", 0), node.get("WAL FPI", 0), node.get("WAL Bytes", 0)


def write_edition(conn, edition: int, rows: int) -> dict:
    statement = "EXPLAIN (ANALYZE, WAL, TIMING OFF, SUMMARY OFF, FORMAT JSON) " + _PG_INSERT_DELIVERIES.format(
        address=_ADDRESSED, on_conflict="").replace(":edition_id", "%(edition_id)s").replace(":status", "%(status)s")
    for name in ("skip_reason", "error", "created_at", "subscriber_ids", "batch_ids"):
        statement = statement.replace(f":{name}", f"%({name})s")
    backend = psutil.Process(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
    lsn_before = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    conn.commit()
    cpu_before = sum(backend.cpu_times()[:2])
    wall_before = time.perf_counter()
    records = fpi = wal_bytes = 0
    for start in range(1, rows + 1, STATEMENT_ROWS):
        ids = range(start, min(start + STATEMENT_ROWS, rows + 1))
        params = {"edition_id": edition, "status": "queued", "skip_reason": None, "error": None,
                  "created_at": "2026-12-06T18:00:00Z", "subscriber_ids": ",".join(map(str, ids)),
                  "batch_ids": ",".join(str(edition * 10000 + (i - 1) // BATCH) for i in ids)}
        conn.execute(f"SELECT pg_advisory_xact_lock_shared({ERASURE_LOCK})")
        r, f, b = wal_of(conn.execute(statement, params).fetchone()[0])
        records, fpi, wal_bytes = records + r, fpi + f, wal_bytes + b
        conn.commit()
    cpu = sum(backend.cpu_times()[:2]) - cpu_before
    wall = time.perf_counter() - wall_before
    lsn_moved = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn_before,)).fetchone()[0]
    conn.commit()
    count = conn.execute("SELECT count(*) FROM deliveries WHERE edition_id = %s", (edition,)).fetchone()[0]
    conn.commit()
    assert count == rows, count
    return {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "wal_records": records, "wal_fpi": fpi,
            "wal_mb": round(wal_bytes / 2**20, 1), "server_wal_mb": round(float(lsn_moved) / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="ledgerindex_bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--prior", type=int, default=0, help="earlier editions' rows already in the ledger")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    setup(args.admin_url, args.database, args.rows)
    try:
        with psycopg.connect(args.admin_url, dbname=args.database, autocommit=True) as admin, \
                psycopg.connect(args.admin_url, dbname=args.database) as conn:
            for round_number in range(1, args.rounds + 1):
                for variant in args.variants.split(","):
                    prepare(admin, variant, args.rows, args.prior)
                    load = psutil.getloadavg()[0]
                    result = write_edition(conn, args.prior + 1, args.rows)
                    print(json.dumps({"round": round_number, "variant": variant, "prior": args.prior,
                                      "load": round(load, 1), **result}), flush=True)
    finally:
        if not args.keep:
            with psycopg.connect(args.admin_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {args.database}")


if __name__ == "__main__":
    main()
