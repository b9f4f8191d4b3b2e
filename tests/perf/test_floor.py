"""``benchmarks/floor.py``, the ledger floor of issue 23, at a small N on PostgreSQL: every
active reader gets one ledger row, settled once, in requests of at most 1,000 whose links
are the real signed tokens, and one last-digest time each.

2,500 readers, 10 of them unsubscribed: 2,490 active, so (worked out by hand) three
batches of 1,000, 1,000 and 490 readers, shared by two processes (batches 0 and 2, and 1).
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from sqlalchemy import create_engine, text

from digest.content import TOKEN_NAMES
from digest.links import read_token
from digest.message import ONE_CLICK
from fakes.benchmarks import load_benchmark
from digest.models import Base

READERS = 2_500
UNSUBSCRIBED = range(100, 2_500, 240)  # 10 ids: 100, 340, ..., 2260



@pytest.fixture(scope="module")
def benchmark():
    floor = load_benchmark("floor")
    return floor, load_benchmark("edition")


@pytest.mark.postgres
def test_the_floor_records_sends_and_encodes_one_request_per_batch(postgres_url, benchmark):
    floor, edition = benchmark
    engine = create_engine(postgres_url)
    with engine.begin() as conn:  # the session's PostgreSQL database, emptied
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    edition.seed(postgres_url, READERS)
    with engine.begin() as conn:
        conn.execute(text("UPDATE subscribers SET status = 'unsubscribed' WHERE id = ANY(:ids)"),
                     {"ids": list(UNSUBSCRIBED)})
        conn.execute(text("UPDATE subscribers SET last_digest_at = NULL"))
    started = datetime.now(timezone.utc)

    result = floor.measure_floor(postgres_url, edition_id=7, processes=2, keep_requests=True,
                                 bodies=[("Body one", "text one", "<p>one</p>"), ("Body two", "text two", "<p>two</p>")])

    active = [sid for sid in range(1, READERS + 1) if sid not in UNSUBSCRIBED]
    assert (result.rows, result.settled, result.last_digests) == (2_490, 2_490, 2_490)
    assert [(batch, count) for batch, count, _ in result.requests] == [(0, 1000), (1, 1000), (2, 490)]
    requests = [orjson.loads(data) for data in result.encoded]
    assert [len(r["personalizations"]) for r in requests] == [1000, 1000, 490]
    assert [r["subject"] for r in requests] == ["Body one", "Body two", "Body one"]  # batch k: body k % 2
    assert [r["custom_args"] for r in requests] == [{"edition_id": "7", "batch_id": str(b)} for b in range(3)]

    # Every active reader once, in subscriber order, with the real signed links.
    sent = [(p["custom_args"]["subscriber_id"], p["to"][0]["email"]) for r in requests for p in r["personalizations"]]
    assert sent == [(str(sid), edition.dataset.email_for(sid)) for sid in active]
    for number, request in enumerate(requests):
        body_id = number % 2 + 1
        for p in request["personalizations"][::97]:
            sid = int(p["custom_args"]["subscriber_id"])
            subs = p["substitutions"]
            assert set(subs) == {f"%%{name}%%" for name in TOKEN_NAMES}
            assert subs["%%email%%"] == p["to"][0]["email"]
            for purpose, path in (("unsubscribe", "unsubscribe"), ("preferences", "preferences"), ("archive", "archive")):
                url = subs[f"%%{path}_url%%"]
                assert url.startswith(f"{floor.BASE_URL}/{path}/")
                token = read_token(floor.SECRET_KEY, purpose, url.rsplit("/", 1)[1])
                assert token.subscriber_id == sid
                assert token.body_id == (body_id if purpose == "archive" else None)
            assert p["headers"] == {"List-Unsubscribe": f"<{subs['%%unsubscribe_url%%']}>",
                                    "List-Unsubscribe-Post": ONE_CLICK}

    with engine.connect() as conn:
        recorded = conn.execute(text("SELECT id FROM subscribers WHERE last_digest_at >= :t ORDER BY id"),
                                {"t": started}).scalars().all()
        unrecorded = conn.execute(text("SELECT count(*) FROM subscribers WHERE last_digest_at IS NULL")).scalar()
        scratch = conn.execute(text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'floor_deliveries_%'")).scalar()
    engine.dispose()
    assert recorded == active
    assert unrecorded == len(UNSUBSCRIBED)
    assert scratch == 0  # the floor's ledger is dropped afterwards


@pytest.mark.postgres
def test_the_floor_in_an_editions_batches_makes_one_request_per_batch(postgres_url, benchmark):
    """``batches_of``: the floor's readers as an edition batched them (its sent rows), each
    batch one request (worked out by hand: batches 11, 12, 13 of 3, 1,000 and 2 readers;
    the queued and skipped rows, and another edition's, are not the edition's sends)."""
    floor, edition = benchmark
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    edition.seed(postgres_url, 1_200)
    layout = {11: [1100, 1150, 1200], 12: list(range(1, 1001)), 13: [1001, 1002]}
    rows = [(sid, batch, "sent") for batch, readers in layout.items() for sid in readers]
    rows += [(1003, 13, "queued"), (1004, None, "skipped")]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO deliveries (edition_id, subscriber_id, batch_id, email, status, refused, "
                          "created_at) VALUES (3, :sid, :batch, 'r' || :sid || '@example.com', :status, false, now())"),
                     [{"sid": sid, "batch": batch, "status": status} for sid, batch, status in rows])
        conn.execute(text("INSERT INTO deliveries (edition_id, subscriber_id, batch_id, email, status, refused, "
                          "created_at) VALUES (4, 7, 99, 'r7@example.com', 'sent', false, now())"))

    result = floor.measure_floor(postgres_url, edition_id=7, processes=2, keep_requests=True, batches_of=3,
                                 bodies=[("Body one", "text one", "<p>one</p>")])

    assert (result.rows, result.settled, result.last_digests) == (1_005, 1_005, 1_005)
    assert [(batch, count) for batch, count, _ in result.requests] == [(11, 3), (12, 1000), (13, 2)]
    requests = [orjson.loads(data) for data in result.encoded]
    assert [[int(p["custom_args"]["subscriber_id"]) for p in r["personalizations"]] for r in requests] == [
        [1100, 1150, 1200], list(range(1, 1001)), [1001, 1002]]
    assert requests[0]["personalizations"][1]["to"] == [{"email": "r1150@example.com"}]
    engine.dispose()
