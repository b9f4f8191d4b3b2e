"""The ledger floor: the least work any exactly-once sender must do for N readers.

    DATABASE_URL=postgresql://... python benchmarks/floor.py --subscribers 100000

Issue 23's definition, on PostgreSQL, in as many processes as the machine has cores, each
for its share of the readers (whole batches of 1,000, in subscriber order):

1. COPY one queued delivery row per reader (subscriber, edition, batch, body, address)
   into a table with the unique (subscriber, edition) key;
2. for every batch: read its rows back, sign the three per-reader links (HMAC-SHA1, the
   real tokens: :class:`digest.links.LinkMaker`), encode one SendGrid request with each
   reader's substitutions and one-click headers (orjson), and settle the batch with one
   UPDATE (committed: the record after the send);
3. last, one UPDATE of every reader's last-digest time from the rows settled.

No selection, no rendering, no HTTP: what records each send before and after it happens.
The ledger is a scratch table this module creates and drops (``floor_deliveries_<pid>``,
shaped like ``deliveries``: fillfactor 50, an index on the batch); step 3 writes the
real ``subscribers.last_digest_at``. Reading each process's share of the readers happens
before the clock starts. Its sessions are set as the application's (UTC, no JIT:
:data:`digest.db.SESSION_SETTINGS`). ``benchmarks/edition.py`` runs
:func:`measure_floor` on the same database in the same run, then again with
``batches_of`` (the edition's own batches instead of 1,000 readers at a time); run alone,
this seeds a fresh database like it.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg
from sqlalchemy.engine import make_url

from digest.db import SESSION_SETTINGS
from digest.links import LinkMaker
from digest.message import recipient_headers
from digest.settings import normalise_database_url

BATCH_SIZE = 1000  # SendGrid's personalizations per request
PHASES = ("copy", "read", "sign", "encode", "settle")
SECRET_KEY = "benchmark-secret-key-0123456789"
BASE_URL = "https://digest.ridgeline.example"
SENDER = {"email": "digest@ridgeline.example", "name": "Ridgeline Daily"}
#: A stand-in body when the caller gives none (about the size of a rendered edition).
SAMPLE_BODY = ("Your briefing", "Plain text of the edition. " * 300,
               "<html><body>" + "<p>One paragraph of a briefing, inlined.</p>" * 1000 + "</body></html>")


@dataclass
class FloorResult:
    seconds: float  # wall time: the first COPY to the last-digest UPDATE's commit
    processes: int
    rows: int  # delivery rows written
    settled: int  # rows the settle UPDATEs marked sent
    last_digests: int  # subscribers whose last_digest_at the last UPDATE wrote
    phases: dict[str, float]  # phase -> seconds, summed over the processes
    last_digest_seconds: float
    requests: list[tuple[int, int, int]]  # (batch, personalizations, bytes), batch order
    encoded: list[bytes] = field(default_factory=list)  # the requests themselves, when kept

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self.requests)

    def lines(self) -> list[str]:
        split = ", ".join(f"{name} {self.phases[name]:.2f}" for name in PHASES)  # sign: links and each reader's part
        return [f"ledger floor: {self.seconds:.2f} s for {self.rows:,} readers in {self.processes} process(es), "
                f"{len(self.requests)} requests, {self.bytes / 1e6:,.0f} MB",
                f"  per phase, seconds summed over the processes: {split}; "
                f"last-digest UPDATE {self.last_digest_seconds:.2f}"]


def conninfo(database_url: str) -> str:
    """The libpq form of a ``DATABASE_URL`` (psycopg, without SQLAlchemy's driver name)."""
    url = make_url(normalise_database_url(database_url))
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"the ledger floor is measured on PostgreSQL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def measure_floor(database_url: str, *, edition_id: int = 1, bodies=None, processes: int | None = None,
                  secret: str = SECRET_KEY, base_url: str = BASE_URL, keep_requests: bool = False,
                  batches_of: int | None = None) -> FloorResult:
    """The floor for every active subscriber of the database. ``bodies``: (subject, text,
    html) tuples, batch k sending ``bodies[k % len(bodies)]`` (e.g. an edition's own);
    ``keep_requests`` returns the encoded requests too (small N: tests).

    ``batches_of``: an edition already sent in this database; the floor then takes its
    readers in that edition's batches (each sent reader in their batch, numbered by its
    id) instead of 1,000 at a time in subscriber order. Not issue 23's floor: the same
    least work, paid once per request the edition had to make (one per body and 1,000
    readers, since readers with different selections cannot share a request), which
    shows how much of the edition's time is that and how much is its own."""
    dsn = conninfo(database_url)
    processes = processes or os.cpu_count() or 1
    table = f"floor_deliveries_{os.getpid()}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (subscriber_id bigint NOT NULL, edition_id bigint NOT NULL, "
                     "batch_id bigint NOT NULL, body_id bigint NOT NULL, email text NOT NULL, "
                     "status text NOT NULL DEFAULT 'queued', sent_at timestamptz, "
                     "UNIQUE (subscriber_id, edition_id)) WITH (fillfactor = 50)")
        conn.execute(f"CREATE INDEX ON {table} (batch_id)")
    # fork: the shares start from this process's imports, and open their own connections.
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    ready = context.Barrier(processes + 1)
    results = context.Queue()
    job = dict(dsn=dsn, table=table, edition_id=edition_id, bodies=list(bodies or [SAMPLE_BODY]), batches_of=batches_of,
               processes=processes, secret=secret, base_url=base_url, keep=keep_requests)
    workers = [context.Process(target=_share, args=(index, job, ready, results), daemon=True)
               for index in range(processes)]
    try:
        for worker in workers:
            worker.start()
        try:
            ready.wait(timeout=600)  # every share read: the clock starts
        except threading.BrokenBarrierError:
            raise RuntimeError(f"a share of the ledger floor failed: {results.get(timeout=10).get('error')}") from None
        started = time.perf_counter()
        shares = [results.get(timeout=3600) for _ in workers]
        failed = [share["error"] for share in shares if "error" in share]
        if failed:
            raise RuntimeError(f"a share of the ledger floor failed: {failed[0]}")
        with _connect(dsn) as conn:
            recorded_at = time.perf_counter()
            last_digests = conn.execute(
                f"UPDATE subscribers SET last_digest_at = d.sent_at FROM {table} d "
                "WHERE subscribers.id = d.subscriber_id AND d.edition_id = %s AND d.status = 'sent'",
                (edition_id,)).rowcount
            conn.commit()
        finished = time.perf_counter()
        for worker in workers:
            worker.join()
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return FloorResult(
        seconds=finished - started, processes=processes,
        rows=sum(share["rows"] for share in shares), settled=sum(share["settled"] for share in shares),
        last_digests=last_digests,
        phases={name: sum(share["phases"][name] for share in shares) for name in PHASES},
        last_digest_seconds=finished - recorded_at,
        requests=sorted(request for share in shares for request in share["requests"]),
        encoded=[data for _, data in sorted(pair for share in shares for pair in share["encoded"])],
    )


def _connect(dsn: str) -> psycopg.Connection:
    """A connection set as the application's sessions are (UTC, no JIT compilation:
    :data:`digest.db.SESSION_SETTINGS`), so that the floor and the edition differ only in
    their work."""
    conn = psycopg.connect(dsn)
    conn.execute(SESSION_SETTINGS)
    conn.commit()
    return conn


def _share(index: int, job: dict, ready, results) -> None:
    """One process's share: whole batches ``b`` with ``b % processes == index``."""
    try:
        results.put(_run_share(index, job, ready))
    except BaseException as exc:  # the parent must hear of it, not wait forever
        if not ready.broken:
            ready.abort()
        results.put({"error": f"share {index}: {type(exc).__name__}: {exc}"})


def _run_share(index: int, job: dict, ready) -> dict:
    table, edition_id, bodies, processes = job["table"], job["edition_id"], job["bodies"], job["processes"]
    links = LinkMaker(job["base_url"], job["secret"])
    clock = dict.fromkeys(PHASES, 0.0)
    with _connect(job["dsn"]) as conn:
        if job["batches_of"] is None:
            readers = conn.execute(  # (subscriber, batch, email): not timed, the floor starts with its readers
                "SELECT id, batch, email FROM (SELECT id, email, (row_number() OVER (ORDER BY id) - 1) / %s AS batch "
                "FROM subscribers WHERE status = 'active') numbered WHERE batch %% %s = %s ORDER BY id",
                (BATCH_SIZE, processes, index)).fetchall()
        else:  # the readers as the edition batched them
            readers = conn.execute(
                "SELECT subscriber_id, batch_id, email FROM deliveries WHERE edition_id = %s AND status = 'sent' "
                "AND batch_id %% %s = %s ORDER BY batch_id, subscriber_id",
                (job["batches_of"], processes, index)).fetchall()
        conn.commit()
        # Its readers and imports live through the timed part: frozen, the collector never
        # walks them (as the edition's workers freeze what they start with:
        # digest.deliver.fork_server_ready), so no full collection costs the floor more
        # than its own work does.
        gc.freeze()
        ready.wait(timeout=600)

        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy(f"COPY {table} (subscriber_id, edition_id, batch_id, body_id, email) FROM STDIN") as copy:
                for subscriber_id, batch, email in readers:
                    copy.write_row((subscriber_id, edition_id, batch, batch % len(bodies) + 1, email))
        conn.commit()
        clock["copy"] = time.perf_counter() - started

        requests, encoded, settled = [], [], 0
        for batch in sorted({batch for _, batch, _ in readers}):
            t0 = time.perf_counter()
            rows = conn.execute(f"SELECT subscriber_id, email, body_id FROM {table} "
                                "WHERE batch_id = %s AND status = 'queued' ORDER BY subscriber_id", (batch,)).fetchall()
            t1 = time.perf_counter()
            body_id = rows[0][2]
            personalizations = []
            for subscriber_id, email, _ in rows:
                tokens = links.token_values(subscriber_id, email, body_id)
                personalizations.append({
                    "to": [{"email": email}],
                    "substitutions": {f"%%{name}%%": value for name, value in tokens.items()},
                    "headers": recipient_headers(tokens["unsubscribe_url"]),
                    "custom_args": {"subscriber_id": str(subscriber_id)},
                })
            t2 = time.perf_counter()
            subject, text, html = bodies[body_id - 1]
            data = orjson.dumps({
                "from": SENDER, "subject": subject,
                "content": [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}],
                "personalizations": personalizations,
                "categories": ["digest"], "custom_args": {"edition_id": str(edition_id), "batch_id": str(batch)},
            })
            t3 = time.perf_counter()
            settled += conn.execute(f"UPDATE {table} SET status = 'sent', sent_at = now() "
                                    "WHERE batch_id = %s AND status = 'queued'", (batch,)).rowcount
            conn.commit()
            t4 = time.perf_counter()
            clock["read"] += t1 - t0
            clock["sign"] += t2 - t1
            clock["encode"] += t3 - t2
            clock["settle"] += t4 - t3
            requests.append((batch, len(personalizations), len(data)))
            if job["keep"]:
                encoded.append((batch, data))
    return {"rows": len(readers), "settled": settled, "phases": clock, "requests": requests, "encoded": encoded}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The ledger floor for N subscribers, on PostgreSQL.")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=None, help="default: the number of cores")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import edition  # noqa: E402  (its setup: a fresh database, the benchmark's readers)

    database_url = edition.fresh_database(edition.database_choice(os.environ.get("DATABASE_URL"), False))
    edition.seed(database_url, args.subscribers)
    result = measure_floor(database_url, processes=args.processes, secret=edition.SECRET_KEY)
    print("\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
