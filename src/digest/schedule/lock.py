"""The scheduler lock: exactly one ``digest worker`` process schedules.

Every worker tries to take (or renew) the lock every few seconds; the one that holds
it runs the ingest and delivery-tick jobs, the others only consume queued batches.
The lock expires ``ttl`` after its last renewal, so when its holder dies without
releasing it (SIGKILL, a lost dyno) another worker takes over within ``ttl`` plus
one retry interval — under a minute with the defaults.

Two backends with one interface: a :class:`~digest.models.Lease` row in the database
(the default), or a Redis key when ``REDIS_URL`` is set (the queue's Redis then also
decides who schedules, and no database write happens every few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import or_, select, update

from ..deliver.ledger import insert_for
from ..models import Lease
from ..runtime import Runtime
from .clock import Clock, SystemClock

SCHEDULER_LOCK = "scheduler"
DEFAULT_TTL = timedelta(seconds=45)


@dataclass(frozen=True)
class LockState:
    holder: str
    expires_at: datetime


class SchedulerLock(Protocol):
    holder_id: str

    def acquire(self) -> bool:
        """Take or renew the lock; True when this process holds it now."""
        ...

    def release(self) -> None:
        """Give the lock up at once (graceful shutdown), if this process holds it."""
        ...

    def current(self) -> LockState | None:
        """Who holds the lock, if anyone (expired leases count as nobody)."""
        ...


class DatabaseLock:
    """A ``leases`` row; taken by a conditional UPDATE (or the first INSERT) whose row
    count says who won, so two workers racing for an expired lease cannot both win."""

    def __init__(self, runtime: Runtime, holder_id: str, *, ttl: timedelta = DEFAULT_TTL,
                 clock: Clock | None = None, name: str = SCHEDULER_LOCK):
        self.runtime = runtime
        self.holder_id = holder_id
        self.ttl = ttl
        self.clock = clock or SystemClock()
        self.name = name

    def acquire(self) -> bool:
        now = self.clock.now()
        with self.runtime.session() as session:
            renewed = session.execute(
                update(Lease)
                .where(Lease.name == self.name, or_(Lease.holder == self.holder_id, Lease.expires_at < now))
                .values(holder=self.holder_id, expires_at=now + self.ttl)
                .execution_options(synchronize_session=False)
            ).rowcount
            if renewed == 1:
                return True
            created = session.execute(
                insert_for(session, Lease)
                .values(name=self.name, holder=self.holder_id, expires_at=now + self.ttl)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(Lease.name)  # rowcount is not reliable for this insert on psycopg
            ).first()
            return created is not None

    def release(self) -> None:
        with self.runtime.session() as session:
            session.execute(
                update(Lease)
                .where(Lease.name == self.name, Lease.holder == self.holder_id)
                .values(expires_at=datetime(1970, 1, 1, tzinfo=timezone.utc))
                .execution_options(synchronize_session=False)
            )

    def current(self) -> LockState | None:
        with self.runtime.session() as session:
            row = session.scalars(select(Lease).where(Lease.name == self.name)).one_or_none()
            if row is None or row.expires_at <= self.clock.now():
                return None
            return LockState(row.holder, row.expires_at)


# Renew or release only if we still hold it: GET and SET/DEL in one atomic step.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisLock:
    """``SET key holder NX PX ttl``; renewed and released by Lua scripts that check the
    holder first, so a worker never extends or deletes a lock another one took over."""

    def __init__(self, client, holder_id: str, *, ttl: timedelta = DEFAULT_TTL,
                 key: str = f"digest:{SCHEDULER_LOCK}-lock"):
        self.client = client
        self.holder_id = holder_id
        self.ttl_ms = int(ttl.total_seconds() * 1000)
        self.key = key
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self) -> bool:
        if self._renew(keys=[self.key], args=[self.holder_id, self.ttl_ms]):
            return True
        return bool(self.client.set(self.key, self.holder_id, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.holder_id])

    def current(self) -> LockState | None:
        pipe = self.client.pipeline()
        pipe.get(self.key)
        pipe.pttl(self.key)
        holder, pttl = pipe.execute()
        if holder is None or pttl is None or pttl < 0:
            return None
        if isinstance(holder, bytes):
            holder = holder.decode()
        return LockState(holder, datetime.now(timezone.utc) + timedelta(milliseconds=pttl))


def redis_lock_key(namespace: str) -> str:
    return f"{namespace}:{SCHEDULER_LOCK}-lock"


def make_lock(runtime: Runtime, holder_id: str, *, namespace: str = "digest",
              ttl: timedelta = DEFAULT_TTL, clock: Clock | None = None) -> SchedulerLock:
    """A Redis lock when ``REDIS_URL`` is set, otherwise a database lease."""
    if runtime.settings.redis_url:
        import redis

        client = redis.Redis.from_url(runtime.settings.redis_url)
        return RedisLock(client, holder_id, ttl=ttl, key=redis_lock_key(namespace))
    return DatabaseLock(runtime, holder_id, ttl=ttl, clock=clock)
