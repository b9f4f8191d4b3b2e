"""The Event Webhook under load, and the report over 30 days of million-reader editions.

1. ``--events N`` signed SendGrid events (delivered, deferred, open with and without
   ``sg_machine_open``, click, processed; one edition of a million readers) posted in
   batches of ``--batch`` to a real ``digest web`` process on PostgreSQL, one post at a
   time as SendGrid does per connection: events per second and the p50/p99 time of a post;
   then every event is checked to be stored once and the counters to equal the events.
2. Counters seeded for 30 editions of a million readers (figures per day over a week,
   every topic, 200 clicked links each), then ``digest report --days 30 --format json``
   timed as a command.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/digest_bench python benchmarks/webhook.py --events 200000

Targets (issue 22): 5,000 events/s, and the report in under 1 s. The database is emptied first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from digest import db
from digest.models import Base, Edition, EditionCounter, ProviderEvent
from digest.report.reading import read_report
from digest.settings import bundled_config_path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from fakes.signed_events import public_key_b64, sign  # noqa: E402

#: The ``digest`` command of this interpreter's environment.
DIGEST = os.path.join(os.path.dirname(sys.executable), "digest")
READERS = 1_000_000
KINDS = [("delivered", 40), ("processed", 15), ("open", 20), ("machine_open", 10), ("click", 10), ("deferred", 5)]


def events_for(count: int, seed: int = 22) -> list[dict]:
    rng = random.Random(seed)
    names, weights = zip(*KINDS)
    stamp = int(datetime.now(timezone.utc).timestamp())
    events = []
    for n, kind in enumerate(rng.choices(names, weights, k=count)):
        event = {"sg_event_id": f"bench-{n:08d}", "email": f"reader{n % READERS:07d}@bench.example",
                 "timestamp": stamp, "edition_id": "1", "batch_id": str(1 + n % 1000),
                 "subscriber_id": str(1 + n % READERS), "event": "open" if kind == "machine_open" else kind}
        if kind in ("open", "machine_open"):
            event["sg_machine_open"] = kind == "machine_open"
        if kind == "click":
            event["url"] = f"https://bench.example/b/{rng.randrange(300)}"
        events.append(event)
    return events


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_events(url: str, env: dict[str, str], key, events: list[dict], batch: int,
                analyze=None) -> tuple[float, list[float]]:
    """``analyze``, when given, is called after every 20 posts, outside the time taken."""
    port = free_port()
    web = subprocess.Popen([DIGEST, "web", "--port", str(port)],
                           env={**env, "PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            bodies = [json.dumps(events[i:i + batch]).encode() for i in range(0, len(events), batch)]
            signed = [(body, sign(key, body, str(int(time.time())))) for body in bodies]
            times = []
            spent = 0.0
            for n, (body, headers) in enumerate(signed, 1):
                t = time.perf_counter()
                response = client.post("/webhooks/sendgrid", content=body, headers=headers)
                response.raise_for_status()
                times.append(time.perf_counter() - t)
                spent += times[-1]
                if analyze is not None and n % 20 == 0:
                    analyze()
            return spent, times
    finally:
        web.terminate()
        web.wait(30)


def seed_counters(engine, editions: int = 30) -> None:
    today = date.today()
    topics = ["gold", "general", "lithium", "copper", "uranium", "silver", "ev-supply-chain", "oil-gas",
              "rare-earths", "nickel", "potash", "crypto-mining"]
    with engine.begin() as conn:
        conn.execute(insert(Edition), [{"id": 100 + n, "date": today - timedelta(days=n), "slot": "daily",
                                        "created_at": datetime.now(timezone.utc)} for n in range(editions)])
        rows = []
        for n in range(editions):
            for d in range(7):
                day = today - timedelta(days=n) + timedelta(days=d)
                base = {"edition_id": 100 + n, "day": day, "url": None}
                for figure, count in (("delivered", 960_000 // 7), ("opened", 300_000 // 7), ("clicked", 40_000 // 7),
                                      ("clicks", 60_000 // 7), ("bounced", 3_000 // 7), ("complained", 200 // 7)):
                    rows.append({**base, "figure": figure, "item": "", "count": count})
                    if figure in ("delivered", "opened", "clicked"):
                        rows += [{**base, "figure": figure, "item": f"topic:{t}", "count": count // 4} for t in topics]
            rows.append({"edition_id": 100 + n, "day": today - timedelta(days=n), "figure": "sent", "item": "",
                         "url": None, "count": 1_000_000})  # as settling its batches counts it
            rows += [{"edition_id": 100 + n, "day": today - timedelta(days=n), "figure": "clicks",
                      "item": f"url:{u:064d}", "url": f"https://bench.example/b/{u}", "count": 300 - u}
                     for u in range(200)]
        conn.execute(insert(EditionCounter), rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Webhook events/s and the 30-day report, on PostgreSQL.")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("DATABASE_URL must name a PostgreSQL database (it is emptied)")
    engine = db.make_engine(url)
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
                          + " RESTART IDENTITY CASCADE"))
    key = ec.generate_private_key(ec.SECP256R1())
    env = {**os.environ, "DATABASE_URL": url, "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key_b64(key),
           "DIGEST_SECRET_KEY": "bench-secret-key-0123456789", "DIGEST_CONFIG": str(bundled_config_path())}

    with engine.connect() as conn:
        autovacuum = conn.scalar(text("SHOW autovacuum")) == "on"

    def analyze() -> None:
        """What autovacuum would do as the tables grow: without fresh statistics the
        planner takes the tables for empty and checks a post's 1,000 event ids against
        every stored event (the posts then slow down as the table grows)."""
        with engine.begin() as conn:
            conn.execute(text("ANALYZE provider_events, reader_figures, edition_counters"))

    print(f"autovacuum {'on' if autovacuum else 'off: ANALYZE run every 20 posts, outside the time taken'}")
    events = events_for(args.events)
    seconds, times = post_events(url, env, key, events, args.batch, None if autovacuum else analyze)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(ProviderEvent))
        clicks = conn.scalar(select(func.sum(EditionCounter.count)).where(EditionCounter.figure == "clicks",
                                                                          EditionCounter.item == ""))
    expected_clicks = sum(1 for e in events if e["event"] == "click")
    quarter = max(1, len(times) // 4)
    print(f"  mean per post, first quarter {statistics.mean(times[:quarter]) * 1000:.0f} ms, "
          f"last quarter {statistics.mean(times[-quarter:]) * 1000:.0f} ms (posting order)")
    times.sort()
    print(f"webhook: {len(events):,} events in {len(times)} posts of {args.batch}: {seconds:.1f} s, "
          f"{len(events) / seconds:,.0f} events/s; per post p50 {statistics.median(times) * 1000:.0f} ms, "
          f"p99 {times[min(len(times) - 1, int(len(times) * 0.99))] * 1000:.0f} ms")
    print(f"  stored once: {stored == len(events)} ({stored:,}); clicks counted: {clicks == expected_clicks}")

    seed_counters(engine)
    started = time.perf_counter()
    report = subprocess.run([DIGEST, "report", "--days", "30", "--format", "json"],
                            env=env, capture_output=True, text=True, check=True)
    took = time.perf_counter() - started
    print(f"report --days 30 over 30 seeded million-reader editions: {took:.2f} s (the command, Python start "
          f"included), {len(json.loads(report.stdout)['editions'])} editions")
    with Session(engine) as session:
        started = time.perf_counter()
        read_report(session, date.today() - timedelta(days=29), date.today())
        print(f"  of which reading the figures: {time.perf_counter() - started:.3f} s")
    engine.dispose()
    return 0 if stored == len(events) and clicks == expected_clicks else 1


if __name__ == "__main__":
    sys.exit(main())
