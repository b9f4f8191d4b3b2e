"""``digest hold`` during a 20,000-reader edition through the SendGrid stand-in: sending
stops within one batch; ``digest resume`` and a send finish it; every reader gets exactly
one email, checked against both the stand-in's record and the ledger. Then the same with
the sending worker killed (SIGKILL) between the hold and the resume.

The stand-in holds its answer to the fifth request (1,000 readers each): the hold is
given while that batch is in flight, so the batch in flight finishes and the sixth is the
first to see it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import func, select

from digest.cli import main
from digest.models import Batch, Delivery, DeliveryStatus, EditionControl
from fakes.commands import wait_for
from fakes.fixtures import TEST_API_KEY
from fakes.sendgrid_server import FakeSendGrid
from worker.helpers import add_briefings, add_due_subscribers, write_config
from worker.processes import WorkerProcess, worker_env

READERS = 20_000
IN_FLIGHT = 5  # the batch in flight when the hold is given


def _env(tmp_path, runtime, fake) -> dict[str, str]:
    return worker_env(tmp_path, runtime.settings.database_url, write_config(tmp_path / "digest.toml"), fake.url,
                      DIGEST_SEND_CONCURRENCY="1", DIGEST_SEND_PROCESSES="1", USER="editor")


def _seed(runtime) -> str:
    """READERS due now, one body; the date of their edition."""
    add_due_subscribers(runtime, READERS, 1)
    add_briefings(runtime, datetime.now(timezone.utc) - timedelta(hours=2))
    return (datetime.now(timezone.utc) - timedelta(hours=1)).date().isoformat()  # the due readers' date


def _answer_to_the_fifth_held(fake):
    fake.pass_next(IN_FLIGHT - 1)
    return fake.hold_next(limit=120)


def _cli(env: dict[str, str], *args: str):
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _batches(runtime) -> Counter:
    with runtime.session() as session:
        return Counter(dict(session.execute(select(Batch.status, func.count()).group_by(Batch.status)).all()))


def _ledger(runtime) -> Counter:
    """Readers by their delivery's status."""
    with runtime.session() as session:
        return Counter(dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()))


def _sent_addresses(runtime) -> Counter:
    with runtime.session() as session:
        return Counter(session.scalars(select(Delivery.email).where(Delivery.status == DeliveryStatus.SENT)).all())


def _hold_during_the_fifth_batch(runtime, fake, env, day: str) -> None:
    wait_for(lambda: sum(fake.delivery_counts().values()) >= IN_FLIGHT * 1000, "the fifth batch", limit=240)
    assert "held by editor" in _cli(env, "hold", "--date", day)


def _put_back_held(runtime) -> bool:
    """A batch claimed after the hold went back to the queue saying why."""
    with runtime.session() as session:
        return any(error.startswith("held: edition") for error in session.scalars(
            select(Batch.error).where(Batch.status == "pending", Batch.error.is_not(None))))


def _check_exactly_once(runtime, fake) -> None:
    delivered = fake.delivery_counts()
    assert len(delivered) == READERS and set(delivered.values()) == {1}  # the stand-in: each reader once
    assert _sent_addresses(runtime) == delivered  # the ledger says the same, reader by reader
    assert _ledger(runtime) == Counter({DeliveryStatus.SENT: READERS})


def test_hold_stops_within_one_batch_and_resume_finishes_once(runtime, tmp_path):
    day = _seed(runtime)
    with FakeSendGrid(api_key=TEST_API_KEY) as fake:
        env = _env(tmp_path, runtime, fake)
        answer = _answer_to_the_fifth_held(fake)
        sender = subprocess.Popen([sys.executable, "-c", "from digest.cli import main; main()", "send", "--date", day],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            _hold_during_the_fifth_batch(runtime, fake, env, day)
            answer.set()
            output, _ = sender.communicate(timeout=240)
        finally:
            answer.set()
            if sender.poll() is None:
                sender.kill()
        assert sender.returncode == 1, output  # readers are still owed
        assert f"edition {day} is held by editor" in output
        # Stopped within one batch: the one in flight went, no other started.
        assert sum(fake.delivery_counts().values()) == IN_FLIGHT * 1000
        assert _batches(runtime) == Counter({"sent": IN_FLIGHT, "pending": READERS // 1000 - IN_FLIGHT})
        assert _ledger(runtime) == Counter({DeliveryStatus.SENT: 5000, DeliveryStatus.QUEUED: READERS - 5000})

        again = CliRunner().invoke(main, ["send", "--date", day], env=env)  # still held: nothing goes
        assert again.exit_code == 0 and "is held by editor" in again.output and "nothing was sent" in again.output
        assert sum(fake.delivery_counts().values()) == IN_FLIGHT * 1000

        assert f"resumed: edition {day}" in _cli(env, "resume", "--date", day)
        _cli(env, "send", "--date", day)
        _check_exactly_once(runtime, fake)


def test_hold_then_sigkill_of_the_sending_worker_then_resume_sends_everyone_once(runtime, tmp_path):
    day = _seed(runtime)
    with FakeSendGrid(api_key=TEST_API_KEY) as fake:
        env = _env(tmp_path, runtime, fake)
        answer = _answer_to_the_fifth_held(fake)
        worker = WorkerProcess(env, tmp_path / "worker.log")
        try:
            _hold_during_the_fifth_batch(runtime, fake, env, day)
            answer.set()
            # The worker saw the hold at the sixth batch and put it back; then it is killed.
            wait_for(lambda: _put_back_held(runtime), "the next batch to go back to the queue, held", limit=120)
            assert _batches(runtime) == Counter({"sent": IN_FLIGHT, "pending": READERS // 1000 - IN_FLIGHT})
            os.kill(worker.pid, signal.SIGKILL)
            worker.proc.wait(timeout=30)
        finally:
            answer.set()
            if worker.proc.poll() is None:
                worker.proc.kill()
        assert sum(fake.delivery_counts().values()) == IN_FLIGHT * 1000
        with runtime.session() as session:
            assert session.scalar(select(func.count()).select_from(EditionControl)
                                  .where(EditionControl.held_at.is_not(None))) == 1  # the hold outlives the kill

        assert f"resumed: edition {day}" in _cli(env, "resume", "--date", day)
        _cli(env, "send", "--date", day)
        _check_exactly_once(runtime, fake)
