"""``digest redraft`` and ``digest cancel`` on an edition stopped mid-send (held while its
first batch was in flight), through the SendGrid stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.models import Batch, Delivery, Subscriber
from fakes.commands import wait_for
from fakes.fixtures import TEST_API_KEY
from fakes.sendgrid_server import FakeSendGrid
from worker.helpers import add_subscriber, write_config
from worker.processes import worker_env

from .helpers import add_briefing

DAY = datetime.now(timezone.utc).date().isoformat()


def _cli(env, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _stopped_after_the_first_batch(runtime, tmp_path, fake) -> dict[str, str]:
    """ann (lithium) and bob (gold): two bodies, two batches. The edition is held while the
    first is in flight: ann's goes, bob's goes back to the queue."""
    add_subscriber(runtime, "ann@example.com", "UTC", 7, topics=("lithium",))
    add_subscriber(runtime, "bob@example.com", "UTC", 7, topics=("gold",))
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    add_briefing(runtime, "Lithium first", hour_ago, topic="lithium")
    add_briefing(runtime, "Gold first", hour_ago, topic="gold")
    env = worker_env(tmp_path, runtime.settings.database_url, write_config(tmp_path / "digest.toml"), fake.url,
                     DIGEST_SEND_CONCURRENCY="1", DIGEST_SEND_PROCESSES="1", USER="editor")
    answer = fake.hold_next(limit=60)
    sender = subprocess.Popen([sys.executable, "-c", "from digest.cli import main; main()", "send", "--date", DAY],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: sum(fake.delivery_counts().values()) == 1, "the first batch")
        _cli(env, "hold", "--date", DAY)
    finally:
        answer.set()
        output, _ = sender.communicate(timeout=120)
    assert sender.returncode == 1 and "is held by editor" in output, output
    assert fake.delivery_counts() == Counter({"ann@example.com": 1})
    return env


def _rows(runtime) -> dict[str, tuple]:
    with runtime.session() as session:
        return {email: (status, reason) for email, status, reason in session.execute(
            select(Subscriber.email, Delivery.status, Delivery.skip_reason)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id))}


def test_redraft_gives_the_new_content_only_to_readers_not_yet_sent_to(runtime, tmp_path):
    with FakeSendGrid(api_key=TEST_API_KEY) as fake:
        env = _stopped_after_the_first_batch(runtime, tmp_path, fake)
        add_briefing(runtime, "Gold correction", datetime.now(timezone.utc) - timedelta(minutes=1), topic="gold")
        add_briefing(runtime, "Lithium correction", datetime.now(timezone.utc) - timedelta(minutes=1), topic="lithium")
        out = _cli(env, "redraft", "--date", DAY)
        assert f"edition {DAY}: 1 queued batch(es) taken apart: 1 reader(s)" in out
        assert f"edition {DAY}: snapshot v1" in out  # approval "none": the first snapshot
        assert _rows(runtime) == {"ann@example.com": ("sent", None)}  # bob is unplanned again
        assert "still held" not in out
        with runtime.session() as session:
            assert session.scalars(select(Batch.status)).all() == ["sent"]

        send = CliRunner().invoke(main, ["send", "--date", DAY], env=env)
        assert send.exit_code == 0 and "is held by editor" in send.output  # the editor's hold stays
        _cli(env, "resume", "--date", DAY)
        _cli(env, "send", "--date", DAY)
    assert fake.delivery_counts() == Counter({"ann@example.com": 1, "bob@example.com": 1})
    ann, bob = fake.messages_for("ann@example.com")[0], fake.messages_for("bob@example.com")[0]
    assert "Lithium correction" not in ann.html  # sent before the redraft: kept what they got
    assert "Gold first" in bob.html and "Gold correction" in bob.html  # the new snapshot
    assert _rows(runtime) == {"ann@example.com": ("sent", None), "bob@example.com": ("sent", None)}


def test_cancel_records_every_unsent_reader_as_cancelled(runtime, tmp_path):
    with FakeSendGrid(api_key=TEST_API_KEY) as fake:
        env = _stopped_after_the_first_batch(runtime, tmp_path, fake)
        add_subscriber(runtime, "cy@example.com", "UTC", 7, topics=("gold",))  # not planned yet
        out = _cli(env, "cancel", "--date", DAY)
        assert out == f"edition {DAY} cancelled: 1 queued batch(es) taken apart; 2 reader(s) recorded as skipped (cancelled)\n"
        assert _rows(runtime) == {"ann@example.com": ("sent", None), "bob@example.com": ("skipped", "cancelled"),
                                  "cy@example.com": ("skipped", "cancelled")}
        send = CliRunner().invoke(main, ["send", "--date", DAY], env=env)
        assert send.exit_code == 0 and f"edition {DAY} was cancelled; nothing was sent" in send.output
        resume = CliRunner().invoke(main, ["resume", "--date", DAY], env=env)
        assert "no edition is held" in resume.output
    assert fake.delivery_counts() == Counter({"ann@example.com": 1})
