"""``digest send`` killed with SIGKILL mid-edition, then run again: nobody gets two
copies, and at most the batch in flight is left ambiguous (and reported)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select

from digest.models import Batch, BatchStatus, Briefing, Delivery, DeliveryStatus, Subscriber, Topic, subscriber_topics
from digest.settings import bundled_config_path
from fakes.sendgrid_server import FakeSendGrid

SUBSCRIBERS = 2500
API_KEY = "SG.kill-test-key"


def _seed(runtime) -> None:
    now = datetime.now(timezone.utc)
    with runtime.session() as session:
        lithium = session.scalars(select(Topic).where(Topic.slug == "lithium")).one()
        session.add(Briefing(
            guid="kill-1", url="https://ridgeline.example/b/1", title="Lithium today", body_html="<p>Body.</p>",
            excerpt="Excerpt.", author="A. Writer", published_at=now - timedelta(hours=1),
            attribution="Information found via a news release.", author_disclosure="The author holds no position.",
            content_hash=hashlib.sha256(b"kill-1").hexdigest(), topics=[lithium],
        ))
        session.execute(insert(Subscriber), [
            {"email": f"r{i:05d}@example.com", "status": "active", "timezone": "UTC", "send_hour": 7,
             "created_at": now, "updated_at": now}
            for i in range(SUBSCRIBERS)
        ])
        ids = session.scalars(select(Subscriber.id)).all()
        session.execute(insert(subscriber_topics), [{"subscriber_id": i, "topic_id": lithium.id} for i in ids])


def _digest_send(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "send"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_sigkill_mid_edition_then_rerun_sends_nobody_twice(runtime, tmp_path):
    _seed(runtime)
    with FakeSendGrid(api_key=API_KEY) as fake:
        env = dict(os.environ, DIGEST_CONFIG=str(bundled_config_path()), DATABASE_URL=runtime.settings.database_url,
                   DIGEST_PROVIDER="sendgrid", SENDGRID_API_KEY=API_KEY, SENDGRID_API_HOST=fake.url,
                   DIGEST_SECRET_KEY="test-secret-key-0123456789", DIGEST_BASE_URL="https://digest.test")
        fake.delay_next(20)  # the first batch is delivered, its answer is slow: kill in between
        first = _digest_send(env)
        deadline = time.monotonic() + 120
        while sum(fake.delivery_counts().values()) < 1000:
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "the first batch never reached the server"
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()

        second = _digest_send(env)
        output, _ = second.communicate(timeout=300)
        assert second.returncode == 1, output  # the ambiguous batch is reported
        assert "ambiguous" in output and "--resend-ambiguous" in output

        counts = fake.delivery_counts()
    assert max(counts.values()) == 1
    assert len(counts) == SUBSCRIBERS  # the in-flight batch had gone out; the rest were sent once
    with runtime.session() as session:
        batches = session.execute(select(Batch.status, Batch.id)).all()
        assert sorted(s for s, _ in batches) == [BatchStatus.AMBIGUOUS, BatchStatus.SENT, BatchStatus.SENT]
        statuses = session.execute(select(Delivery.status)).scalars().all()
        assert statuses.count(DeliveryStatus.AMBIGUOUS) == 1000
        assert statuses.count(DeliveryStatus.SENT) == SUBSCRIBERS - 1000
