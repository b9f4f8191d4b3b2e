"""``fetch_tuples`` (the driver's own cursor on PostgreSQL) returns what
``conn.execute(...).all()`` does, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import bindparam, select

from digest.db import fetch_tuples
from digest.models import Subscriber

_subscribers = Subscriber.__table__
_BY_ID = select(_subscribers.c.id, _subscribers.c.email).where(_subscribers.c.id == bindparam("wanted"))


def test_same_rows_as_sqlalchemy(runtime):
    when = datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc)
    with runtime.session() as session:
        session.add_all([Subscriber(email=f"r{i}@example.com", timezone="Asia/Kolkata", send_hour=7,
                                    last_digest_at=when if i % 2 else None) for i in range(6)])
        session.commit()
        conn = session.connection()
        ids = sorted(session.scalars(select(Subscriber.id)))
        query = (select(_subscribers.c.id, _subscribers.c.email, _subscribers.c.timezone, _subscribers.c.send_hour,
                        _subscribers.c.last_digest_at)
                 .where(_subscribers.c.id.in_(ids[1:5]), _subscribers.c.id > ids[1]).order_by(_subscribers.c.id).limit(2))
        expected = [tuple(row) for row in conn.execute(query).all()]
        assert fetch_tuples(conn, query) == expected
        assert [row[0] for row in expected] == ids[2:4]
        assert expected[1][4] == when and expected[0][4] is None  # aware, whichever zone it comes back in
        for _ in range(2):  # compiled once, different values each call
            assert fetch_tuples(conn, _BY_ID, {"wanted": ids[0]}, cached=True) == [(ids[0], "r0@example.com")]
            assert fetch_tuples(conn, _BY_ID, {"wanted": ids[5]}, cached=True) == [(ids[5], "r5@example.com")]


def test_timestamps_come_back_in_utc_itself(runtime):
    """PostgreSQL sessions run in UTC (``digest.db._session_settings``), so the driver's own
    rows carry ``timezone.utc``, as the models' ``AwareDateTime`` does, and planning need
    not convert each reader's last digest (a server whose zone is ``Etc/UTC``, Debian's
    default, gave ``ZoneInfo("Etc/UTC")``)."""
    when = datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc)
    with runtime.session() as session:
        session.add(Subscriber(email="r@example.com", timezone="Asia/Kolkata", send_hour=7, last_digest_at=when))
        session.commit()
        conn = session.connection()
        [(value,)] = fetch_tuples(conn, select(_subscribers.c.last_digest_at))
    assert value == when and value.tzinfo is timezone.utc
