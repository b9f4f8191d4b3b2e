from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from digest.deliver.batch import Sender
from digest.deliver.runners.in_process import InlineRunner
from fakes.clock import FakeClock
from digest.schedule.tick import DeliveryTick

from .helpers import AlwaysSomethingSelector, ClockedProvider, PlainRenderer


@pytest.fixture
def make_tick():
    """A delivery tick on a fake clock, sending in-process to a recording provider."""

    def _make(runtime, start: datetime, *, worker_id: str | None = None, provider=None):
        clock = FakeClock(start)
        provider = provider or ClockedProvider(clock)
        runner = InlineRunner(Sender.open(runtime, provider, worker_id))
        tick = DeliveryTick(runtime, runner, max_recipients=provider.max_recipients, clock=clock, renderer=PlainRenderer(),
                            selector_factory=lambda session, now: AlwaysSomethingSelector())
        return tick, clock, provider

    return _make


UTC = timezone.utc


@pytest.fixture
def redis_namespace(redis_url):
    """Redis keys of one test's workers (queue, scheduler lock), deleted afterwards."""
    import redis

    namespace = f"digest-test-{uuid.uuid4().hex[:10]}"
    yield namespace
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)
    client.close()
