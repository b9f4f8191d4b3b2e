"""SendGrid posting the same events twice at once (a retry racing the original): each
event recorded and counted once. PostgreSQL only: there the second post waits on the
first one's uncommitted rows and then meets them (SQLite runs one writer at a time)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

import digest.web.sendgrid_events as sendgrid_events
from digest.models import ProviderEvent
from digest.web.sendgrid_events import record_events

from .test_counting import counters, ev

EVENTS = [ev(f"d{n}", "delivered", n) for n in range(1, 201)]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_retry_racing_its_original_counts_each_event_once(runtime, monkeypatch):
    first_counted = threading.Event()
    posts: list[str] = []  # the thread name of every run of a post
    real_record_post, real_count = sendgrid_events._record_post, sendgrid_events.count_events

    def record_post(session, events):
        posts.append(threading.current_thread().name)
        return real_record_post(session, events)

    def count_then_wait_for_the_other_post(session, events):
        """The original, before it commits: wait until the retry is seen waiting on its rows."""
        result = real_count(session, events)
        if threading.current_thread().name == "original" and not first_counted.is_set():
            first_counted.set()
            deadline = time.monotonic() + 30
            with runtime.engine.connect() as probe:
                while probe.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND datname = current_database()")) == 0:
                    assert time.monotonic() < deadline, "the retry never waited on the original's rows"
                    time.sleep(0.02)
                    probe.rollback()
        return result

    monkeypatch.setattr(sendgrid_events, "_record_post", record_post)
    monkeypatch.setattr(sendgrid_events, "count_events", count_then_wait_for_the_other_post)
    results = {}

    def post(name: str) -> None:
        results[name] = record_events(runtime, EVENTS)

    original = threading.Thread(target=post, args=("original",), name="original")
    original.start()
    assert first_counted.wait(30)
    retry = threading.Thread(target=post, args=("retry",), name="retry")
    retry.start()
    original.join(60)
    retry.join(60)

    assert results["original"]["stored"] == 200 and "repeat" not in results["original"]
    assert results["retry"]["repeat"] == 200 and "stored" not in results["retry"]
    assert posts.count("retry") == 2  # it met the original's rows, and was run again
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(ProviderEvent)) == 200
    assert counters(runtime) == {("delivered", ""): 200}
