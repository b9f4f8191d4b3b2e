"""What every PostgreSQL session of ours is set to (``digest.db._session_settings``)."""

from __future__ import annotations

from sqlalchemy import text

from digest import db


def test_a_postgresql_session_never_compiles_a_statement_with_jit(postgres_url):
    """JIT compilation took 12 s of every process running the worker's question of who
    is owed a closed send window at a million readers (its execution 1.4 s): our sessions
    turn it off. With ``jit_above_cost`` at 0 a session with JIT on compiles every
    statement, and its plan says so ("JIT:")."""
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            assert conn.execute(text("SHOW TimeZone")).scalar() == "UTC"
            conn.execute(text("SET jit_above_cost = 0"))
            plan = conn.execute(text(
                "EXPLAIN (ANALYZE) SELECT count(*) FROM subscribers "
                "WHERE (timezone = 'Europe/London' AND send_hour = 7) OR (timezone = 'Asia/Kolkata' AND send_hour = 8)"
            )).scalars().all()
    finally:
        engine.dispose()
    assert plan and not any(line.startswith("JIT:") for line in plan), plan
