"""``GET /healthz``: the process answers and its database does too (503 while the
process still waits for the database at start-up, or when it stops answering)."""

from __future__ import annotations

import logging

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from .context import context

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    runtime = context(request).runtime
    if not runtime.ready:  # still waiting for the database at start-up (digest.database_wait)
        return JSONResponse({"status": "starting", "database": "unavailable"}, status_code=503)
    engine = runtime.engine
    try:
        await run_in_threadpool(_select_one, engine)
    except Exception as exc:  # any failure means "not healthy"; the reason goes to the log
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def _select_one(engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
