"""The scheduler lock: one holder at a time, renewal, takeover after expiry, release."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from fakes.clock import FakeClock
from digest.schedule.lock import DatabaseLock, RedisLock, make_lock

TTL = timedelta(seconds=45)


def test_database_lock_one_holder_renewal_and_takeover(runtime):
    clock = FakeClock(datetime(2026, 3, 9, 12, tzinfo=timezone.utc))
    a = DatabaseLock(runtime, "host:1:a", ttl=TTL, clock=clock)
    b = DatabaseLock(runtime, "host:2:b", ttl=TTL, clock=clock)
    assert a.acquire()
    assert not b.acquire()
    clock.advance(timedelta(seconds=30))
    assert a.acquire()  # renewed: expires 45 s from now
    clock.advance(timedelta(seconds=30))
    assert not b.acquire()
    assert b.current().holder == "host:1:a"
    clock.advance(timedelta(seconds=16))  # a died 46 s ago
    assert b.acquire()
    assert not a.acquire()  # a, if it wakes up, finds it taken over
    assert a.current().holder == "host:2:b"
    b.release()
    assert b.current() is None
    assert a.acquire()


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    namespace = f"digest-test-{uuid.uuid4().hex[:8]}"
    yield client, namespace
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)
    client.close()


def test_redis_lock_one_holder_takeover_and_release(redis_client):
    client, namespace = redis_client
    key = f"{namespace}:scheduler-lock"
    a = RedisLock(client, "host:1:a", ttl=TTL, key=key)
    b = RedisLock(client, "host:2:b", ttl=TTL, key=key)
    assert a.acquire() and a.acquire()
    assert not b.acquire()
    assert b.current().holder == "host:1:a"
    b.release()  # not b's: changes nothing
    assert a.current().holder == "host:1:a"

    client.pexpire(key, 1)  # a dies: its lease runs out
    deadline = time.monotonic() + 10
    while client.exists(key) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b.acquire()
    assert not a.acquire()
    b.release()
    assert a.current() is None


def test_make_lock_picks_redis_when_configured(make_settings, sqlite_url, redis_url):
    from digest.runtime import Runtime

    rt = Runtime.open(make_settings(sqlite_url))
    try:
        assert isinstance(make_lock(rt, "x"), DatabaseLock)
        rt_redis = Runtime(make_settings(sqlite_url, REDIS_URL=redis_url), rt.engine, rt.sessions)
        assert isinstance(make_lock(rt_redis, "x", namespace="ns"), RedisLock)
    finally:
        rt.close()
