"""The signup limits counted in the database, for a web process without Redis.

:class:`~digest.web.rate_limits.RequestLimiter` counts in Redis when ``REDIS_URL`` is set.
Without it, the ``limits`` library would count in the process's memory, and each web dyno
(or a restarted one) would grant its own budget: two dynos could each send an address its
confirmation within the same 10 minutes. So the limits that decide whether a signup stores
or sends anything (signups per client and per address, the signup email per address, the
confirmation emails per reader) are fixed windows in ``rate_limit_hits``: one atomic
upsert per hit, on SQLite and PostgreSQL alike. The busier per-request limits of the token
routes and the webhook stay in memory. Keys are keyed hashes (``DIGEST_SECRET_KEY``), so
the table holds no address or client IP.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite

from ..models import RateLimitHit
from ..runtime import Runtime

_hits = RateLimitHit.__table__


class DatabaseWindows:
    """Fixed windows in the database: a window starts at its first hit and lasts the limit's
    period; ``clock`` gives Unix seconds (tests move it)."""

    def __init__(self, runtime: Runtime, secret: str, clock=time.time):
        self._runtime = runtime
        self._secret = secret.encode()
        self._clock = clock

    def hit(self, amount: int, seconds: int, *identifiers: str) -> int | None:
        """Count one hit; None when it is within ``amount`` per ``seconds``, else the
        seconds until the window ends (the hit is counted all the same)."""
        now = int(self._clock())
        key = hmac.new(self._secret, "\x00".join(identifiers).encode(), hashlib.sha256).hexdigest()
        with self._runtime.session() as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            statement = insert(_hits).values(key=key, window_end=now + seconds, count=1)
            expired = _hits.c.window_end <= now
            statement = statement.on_conflict_do_update(
                index_elements=["key"],
                set_={"count": case((expired, 1), else_=_hits.c.count + 1),
                      "window_end": case((expired, now + seconds), else_=_hits.c.window_end)},
            ).returning(_hits.c.count, _hits.c.window_end)
            count, window_end = session.execute(statement).one()
            session.execute(delete(RateLimitHit).where(RateLimitHit.window_end <= now))
        if count <= amount:
            return None
        return max(1, math.ceil(window_end - now))
