"""A 429 slows every sender, not just the one that got it: the other threads of the
process (one provider) and the other processes (their own providers, told through the
edition's row in the ledger) send nothing before its ``X-RateLimit-Reset``. The stand-in
records when each request arrived."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from digest.deliver.batch import Sender, send_batch
from digest.deliver.ledger import get_or_create_edition
from digest.deliver.plan import plan_edition
from digest.deliver.providers.retry import RetryPolicy
from digest.deliver.providers.sendgrid import SendGridProvider
from digest.deliver.run import EditionRun
from digest.models import Batch, Edition

from fakes.batches import make_batch
from fakes.fixtures import TEST_API_KEY, fake_sendgrid, sendgrid_settings  # noqa: F401

from .conftest import EDITION, NOW, CountingRenderer, FakeSelector, add_subscribers

#: Really sleeps (the others must really wait), briefly when not told how long.
PATIENT = RetryPolicy(deadline=10.0, initial_backoff=0.01, max_backoff=0.1, jitter=0.0, max_wait=5.0)
RESET_IN = 1.5  # seconds from the 429 to its reset


def _until(condition, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "never happened"
        time.sleep(0.01)


def _rate_limited(fake) -> float:
    """The next request is answered 429 with a reset RESET_IN seconds away; the reset."""
    reset = round(time.time() + RESET_IN, 3)
    fake.fail_next(429, headers={"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                                 "X-RateLimit-Reset": f"{reset:.3f}"})
    return reset


def test_a_429_to_one_thread_holds_back_the_other_threads_until_its_reset(sendgrid_settings, fake_sendgrid):
    provider = SendGridProvider(sendgrid_settings, timeout=5, retry=PATIENT)
    batches = [make_batch(sendgrid_settings, 2, batch_id=10 + n, first_subscriber=1 + 2 * n) for n in range(4)]
    reset = _rate_limited(fake_sendgrid)

    with ThreadPoolExecutor(4) as pool:
        told = pool.submit(provider.send, batches[0])
        _until(lambda: fake_sendgrid.responses[429] == 1 and provider.pause.until)  # the first was told
        others = list(pool.map(provider.send, batches[1:]))  # without the pause: at once
        told.result()

    [(_, refused), *later] = fake_sendgrid.received_at
    assert refused == [r.email.lower() for r in batches[0].recipients]
    assert len(later) == 4 and all(arrived >= reset for arrived, _ in later), (reset, later)
    assert fake_sendgrid.responses == {429: 1, 202: 4} and all(r.message_id for r in others)
    provider.close()


def _planned(runtime, batches: int) -> tuple[int, list[int]]:
    add_subscribers(runtime, batches * 2)
    with runtime.session() as session:
        edition = get_or_create_edition(session, EDITION)
    plan_edition(runtime, edition, EditionRun(NOW), renderer=CountingRenderer(), selector=FakeSelector(),
                 max_recipients=2)
    with runtime.session() as session:
        return edition.id, list(session.scalars(select(Batch.id).where(Batch.edition_id == edition.id)
                                                .order_by(Batch.id)))


def test_a_429_to_one_process_holds_back_the_other_processes_through_the_edition(
    runtime, sendgrid_settings, fake_sendgrid
):
    """Two senders with a provider each share nothing in memory, as two send processes
    (or two Dramatiq workers on different dynos): only the database."""
    edition_id, batch_ids = _planned(runtime, 4)
    told = Sender.open(runtime, SendGridProvider(sendgrid_settings, timeout=5, retry=PATIENT))
    other = Sender.open(runtime, SendGridProvider(sendgrid_settings, timeout=5, retry=PATIENT))
    reset = _rate_limited(fake_sendgrid)

    def recorded_reset():
        with runtime.session() as session:
            return session.scalar(select(Edition.rate_limited_until).where(Edition.id == edition_id))

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(send_batch, told, batch_ids[0])
        _until(lambda: recorded_reset() is not None)  # told, and it told the edition
        outcomes = [send_batch(other, batch_id) for batch_id in batch_ids[1:]]  # without the pause: at once
        outcomes.append(first.result())

    assert abs(recorded_reset().timestamp() - reset) < 0.001
    assert [o.status for o in outcomes] == ["sent"] * 4
    [(_, refused), *later] = fake_sendgrid.received_at
    assert len(refused) == 2 and len(later) == 4
    assert all(arrived >= reset for arrived, _ in later), (reset, later)
    assert abs(other.provider.pause.until - told.provider.pause.until) < 0.001  # learnt from the ledger
    told.provider.close()
    other.provider.close()


def test_a_later_reset_is_kept_and_an_earlier_one_does_not_shorten_it(runtime, sendgrid_settings, fake_sendgrid):
    from datetime import datetime, timezone

    from digest.deliver.ledger.rate_limits import record_rate_limit

    edition_id, _ = _planned(runtime, 1)
    later = datetime(2026, 3, 2, 12, 0, 30, tzinfo=timezone.utc)
    record_rate_limit(runtime.engine, edition_id, later)
    record_rate_limit(runtime.engine, edition_id, datetime(2026, 3, 2, 12, 0, 10, tzinfo=timezone.utc))
    with runtime.session() as session:
        assert session.scalar(select(Edition.rate_limited_until).where(Edition.id == edition_id)) == later


def test_the_reset_is_read_with_the_claim_not_by_a_query_of_its_own(runtime, sendgrid_settings, fake_sendgrid):
    from fakes.statements import Statements

    _, batch_ids = _planned(runtime, 1)
    sender = Sender.open(runtime, SendGridProvider(sendgrid_settings, timeout=5, retry=PATIENT))
    with Statements(runtime.engine) as recorded:
        assert send_batch(sender, batch_ids[0]).status == "sent"

    reading = [s for s in recorded.statements if "rate_limited_until" in s]
    assert len(reading) == 1 and reading[0].lstrip().upper().startswith("UPDATE BATCHES"), reading
    sender.provider.close()
