"""What several revisions do on SQLite, where most ALTERs rebuild the table."""

from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from alembic import op

_TRIGGERS = sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table ORDER BY name")


def rebuilt_on_sqlite(table: str, change: Callable) -> None:
    """``change(batch_op)`` on ``table`` rebuilt, its triggers made again (SQLite drops a
    table's triggers with it, and Alembic's batch mode does not copy them)."""
    triggers = op.get_bind().execute(_TRIGGERS, {"table": table}).scalars().all()
    with op.batch_alter_table(table, recreate='always') as batch_op:
        change(batch_op)
    for statement in triggers:
        op.execute(statement)
