"""Two ``digest worker`` processes on the real Redis; the one holding the scheduler lock
is SIGKILLed while SendGrid's stand-in holds one of its requests.

The lock is given a ten-minute lease, so the survivor cannot take it over during the
test: the dead holder's batches can only be recovered by a worker that does not hold the
lock. Since the survivor runs on the same host, it sees at once that the claimant is gone
(its pid and start time), well within the claim's lease (15 minutes elsewhere).
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from sqlalchemy import create_engine, select

from digest.models import Batch, BatchStatus, Delivery, DeliveryStatus, Subscriber

from fakes.fixtures import fake_sendgrid  # noqa: F401  (fixture)
from .helpers import seed_due_edition, write_config
from .processes import Ledger, WorkerProcess, wait_for, worker_env

SUBSCRIBERS = 1200
TOPIC_SETS = 12  # -> 12 bodies -> 12 batches of 100


@pytest.mark.redis
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_dead_lock_holders_batches_are_recovered_by_the_other_worker(
    db_url, make_settings, tmp_path, fake_sendgrid, redis_url, redis_namespace
):
    config = write_config(tmp_path / "digest.toml")
    seed_due_edition(make_settings(db_url, DIGEST_CONFIG=str(config)), SUBSCRIBERS, TOPIC_SETS)

    # Every answer held until the test lets go: the request in flight at the kill stays in
    # flight, whatever the timing.
    holds = [fake_sendgrid.hold_next(limit=60) for _ in range(TOPIC_SETS)]
    env = worker_env(tmp_path, db_url, config, fake_sendgrid.url,
                     REDIS_URL=redis_url, DIGEST_QUEUE_NAMESPACE=redis_namespace)
    workers = [WorkerProcess(env, tmp_path / f"worker-{i}.log", "--threads", "2", "--lock-ttl", "600")
               for i in range(2)]
    ledger = Ledger(db_url)
    engine = create_engine(db_url)

    def holder() -> WorkerProcess | None:
        return next((w for w in workers if "scheduler lock acquired" in w.log()), None)

    def sending_by(pid: int) -> set[int]:
        with engine.connect() as conn:
            rows = conn.execute(select(Batch.id, Batch.claimed_by, Batch.status)).all()
        return {b for b, by, status in rows if by and int(by.rsplit(":", 2)[1]) == pid
                and status in (BatchStatus.SENDING, BatchStatus.AMBIGUOUS)}

    def holder_mid_request() -> bool:
        """The lock holder holds a batch whose request the stand-in has received."""
        victim = holder()
        if victim is None:
            return False
        arrived = {int(r["custom_args"]["batch_id"]) for r in list(fake_sendgrid.requests)}
        return bool(sending_by(victim.pid) & arrived)

    try:
        wait_for(holder_mid_request, 120, "the lock holder to be mid-request", poll=0.02)
        victim = holder()
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=30)
        for hold in holds:
            hold.set()
        victims_batches = sending_by(victim.pid)  # dead: these can no longer change but by recovery
        survivor = next(w for w in workers if w is not victim)

        def settled():
            b = ledger.batches()
            return b[BatchStatus.PENDING] == 0 and b[BatchStatus.SENDING] == 0 and sum(b.values()) == TOPIC_SETS
        wait_for(settled, 120, "the other worker to recover and send every batch")
        assert survivor.terminate_and_wait(timeout=25) == 0, survivor.log()
    finally:
        for hold in holds:
            hold.set()
        for w in workers:
            w.kill()

    with engine.connect() as conn:
        batches = {b.id: b for b in conn.execute(select(Batch.id, Batch.status, Batch.claimed_by))}
        rows = conn.execute(select(Subscriber.email, Delivery.status, Delivery.batch_id)
                            .join(Delivery, Delivery.subscriber_id == Subscriber.id)).all()
    engine.dispose()
    ledger.close()

    # Exactly the victim's in-flight batches are ambiguous; every other one was sent.
    ambiguous = {b for b, row in batches.items() if row.status == BatchStatus.AMBIGUOUS}
    assert victims_batches and ambiguous == victims_batches
    assert {row.status for b, row in batches.items() if b not in ambiguous} == {BatchStatus.SENT}
    # ... recovered by the survivor, which never held the lock.
    survivor_log = survivor.log()
    assert "scheduler lock acquired" not in survivor_log
    assert "were left 'sending' by a stopped process: marked ambiguous by" in survivor_log
    assert all(f"batch {b} marked ambiguous: claimed by " in survivor_log for b in ambiguous)
    assert "marked ambiguous" not in victim.log()

    # The stand-in's record equals the ledger: each batch's request recorded at most once;
    # a sent reader got exactly one email; an ambiguous reader got one exactly when their
    # batch's request had reached the stand-in before the kill, else none.
    requested = Counter(int(r["custom_args"]["batch_id"]) for r in fake_sendgrid.requests)
    assert set(requested.values()) == {1} and set(requested) <= set(batches)
    counts = fake_sendgrid.delivery_counts()
    assert len(rows) == SUBSCRIBERS
    for email, status, batch_id in rows:
        if batch_id in ambiguous:
            assert status == DeliveryStatus.AMBIGUOUS and counts[email] == (1 if batch_id in requested else 0)
        else:
            assert status == DeliveryStatus.SENT and counts[email] == 1, (email, status)
    assert any(b in requested for b in ambiguous)  # the kill really was mid-request
