"""Three ``digest worker`` processes on the real Redis share one edition of 5,000
subscribers sent to the local SendGrid server; one of them is SIGKILLed mid-edition.

How the killed worker is accounted for: it is killed while it holds a batch (status
``sending``, claimed by its pid). That batch's request may or may not have reached
SendGrid, so the ledger must report it ``ambiguous`` (the stale-batch recovery, which
every worker runs, does so once the claimant is gone) and must never send it again. The
outcome asserted: nobody gets two emails; everybody outside ambiguous batches gets
exactly one; the ambiguous batches are only the killed worker's, at most one per
consumer thread; and in this test, since the fake server records a request when it
arrives, those recipients got exactly one as well.
"""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import create_engine, select

from digest.models import Batch, BatchStatus, Delivery, DeliveryStatus, Subscriber

from fakes.fixtures import fake_sendgrid  # noqa: F401  (fixture)
from .helpers import seed_due_edition, write_config
from .processes import Ledger, WorkerProcess, wait_for, worker_env

SUBSCRIBERS = 5000
TOPIC_SETS = 20  # -> 20 bodies -> 20 batches of 250
THREADS = 2


@pytest.mark.redis
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_three_workers_share_an_edition_and_survive_a_sigkill(
    db_url, make_settings, tmp_path, fake_sendgrid, redis_url, redis_namespace
):
    config = write_config(tmp_path / "digest.toml")
    seed_due_edition(make_settings(db_url, DIGEST_CONFIG=str(config)), SUBSCRIBERS, TOPIC_SETS)

    # The first answers late (the edition takes a while), then every answer held until the
    # test lets go: a request in flight at the kill stays in flight, whatever the timing.
    fake_sendgrid.delay_next(0.7, times=4)
    holds = [fake_sendgrid.hold_next(limit=60) for _ in range(TOPIC_SETS)]
    env = worker_env(tmp_path, db_url, config, fake_sendgrid.url,
                     REDIS_URL=redis_url, DIGEST_QUEUE_NAMESPACE=redis_namespace)
    workers = [WorkerProcess(env, tmp_path / f"worker-{i}.log", "--threads", str(THREADS)) for i in range(3)]
    by_pid = {w.pid: w for w in workers}
    ledger = Ledger(db_url)
    engine = create_engine(db_url)

    def in_flight_elsewhere():
        """A batch being sent by a worker that is not the scheduler (pid -> batch ids)."""
        with engine.connect() as conn:
            rows = conn.execute(select(Batch.id, Batch.claimed_by).where(Batch.status == BatchStatus.SENDING)).all()
        holding = {}
        for batch_id, claimed_by in rows:
            pid = int(claimed_by.rsplit(":", 2)[1])
            if pid in by_pid and "scheduler lock acquired" not in by_pid[pid].log():
                holding.setdefault(pid, []).append(batch_id)
        return holding

    def claimed() -> int:
        b = ledger.batches()
        return b[BatchStatus.SENT] + b[BatchStatus.SENDING]

    victims = {}

    def victim_mid_request() -> bool:
        """A non-scheduler holds a batch whose request SendGrid has received but not
        answered, and will not answer until the test lets go (a held answer, not one of
        the first, merely delayed, that could still come before the kill): the moment a
        lost answer could turn into a duplicate."""
        before = claimed()
        victims.clear()
        with fake_sendgrid.lock:
            held = {int(b) for b in fake_sendgrid.held_batches if b.isdigit()}
        victims.update({pid: ids for pid, ids in in_flight_elsewhere().items() if set(ids) & held})
        arrived = len(fake_sendgrid.requests)
        return bool(victims) and ledger.batches()[BatchStatus.SENT] >= 2 and arrived >= claimed() == before

    try:
        wait_for(victim_mid_request, 120, "a non-scheduling worker to be mid-request", poll=0.02)
        victim_pid = next(iter(victims))
        by_pid[victim_pid].proc.send_signal(signal.SIGKILL)
        by_pid[victim_pid].proc.wait(timeout=30)
        for hold in holds:
            hold.set()
        with engine.connect() as conn:  # dead: its batches change no more, but by recovery
            in_flight = {b for b, by in conn.execute(select(Batch.id, Batch.claimed_by).where(
                Batch.status.in_((BatchStatus.SENDING, BatchStatus.AMBIGUOUS))))
                if int(by.rsplit(":", 2)[1]) == victim_pid}

        def settled():
            b = ledger.batches()
            return b[BatchStatus.PENDING] == 0 and b[BatchStatus.SENDING] == 0 and sum(b.values()) == TOPIC_SETS
        wait_for(settled, 120, "the surviving workers to settle every batch")

        survivors = [w for w in workers if w.pid != victim_pid]
        for w in survivors:  # all at once: a lock released by one is not taken by the next
            w.proc.send_signal(signal.SIGTERM)
        for w in survivors:
            assert w.proc.wait(timeout=25) == 0, w.log()
    finally:
        for hold in holds:
            hold.set()
        for w in workers:
            w.kill()

    with engine.connect() as conn:
        batches = conn.execute(select(Batch.id, Batch.status, Batch.claimed_by)).all()
        rows = conn.execute(select(Subscriber.email, Delivery.status, Delivery.batch_id)
                            .join(Delivery, Delivery.subscriber_id == Subscriber.id)).all()
    engine.dispose()
    ledger.close()

    ambiguous = {b.id for b in batches if b.status == BatchStatus.AMBIGUOUS}
    assert {b.status for b in batches} <= {BatchStatus.SENT, BatchStatus.AMBIGUOUS}
    # The victim was killed holding a batch whose answer was 0.7 s away: that batch (and
    # any other it held) IS ambiguous, and only the victim's are.
    assert ambiguous, "the killed worker held a batch: it must be reported ambiguous"
    assert set(victims[victim_pid]) & ambiguous, (victims[victim_pid], ambiguous)
    assert all(int(b.claimed_by.rsplit(":", 2)[1]) == victim_pid for b in batches if b.id in ambiguous)
    assert ambiguous == in_flight  # exactly the victim's batches left in flight at its death
    assert len(ambiguous) <= THREADS
    assert len({b.claimed_by for b in batches}) >= 2  # the edition really was shared

    counts = fake_sendgrid.delivery_counts()
    assert max(counts.values()) == 1  # nobody got two
    assert len(rows) == SUBSCRIBERS
    for email, status, batch_id in rows:
        if batch_id in ambiguous:
            assert status == DeliveryStatus.AMBIGUOUS and counts[email] <= 1
        else:
            assert status == DeliveryStatus.SENT and counts[email] == 1, (email, status)
    assert len(counts) == SUBSCRIBERS  # the killed batch's request had arrived: all got one

    logs = [w.log() for w in workers]
    schedulers = [log for log in logs if "scheduler lock acquired" in log]
    assert len(schedulers) == 1
    assert all("tick: due=" not in log for log in logs if log is not schedulers[0])
    assert sum("consumes jobs only" in log for log in logs) == 2
    # Recovered by whichever worker saw the claimant gone first (every worker runs recovery).
    assert any("marked ambiguous" in log for log in logs)
