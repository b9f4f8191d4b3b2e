"""schedule_changes: a log of the statements that may make someone owed a digest

Revision ID: tick23_changes
Revises: review21b_controls
Create Date: 2026-12-06 07:30:00

The delivery tick remembers the send windows it found with nobody owed until this log
moves (digest.schedule.settled): at a million readers, asking the ledger about every
window every minute cost seconds of database time a tick. Triggers write it, so every
writer is covered (the web, imports, an operator's SQL):

* subscribers added, or their status, zone, send hour, signup time or cadence (frequency,
  weekday, pause) updated;
* ledger rows deleted (``digest send --retry-failed`` forgets render failures).

PostgreSQL: one row per statement (FOR EACH STATEMENT: an import of a million readers
logs one row); the tick prunes rows older than a day. SQLite has only row triggers: each
keeps just the newest row (its id always grows), which is all the tick compares.
A new table and triggers, nothing existing changed; the downgrade drops them. SQLite drops a
table's triggers when a batch migration rebuilds it: a later migration that rebuilds
``subscribers`` or ``deliveries`` there must create them again.
"""

from alembic import op
import sqlalchemy as sa

revision = 'tick23_changes'
down_revision = 'review21b_controls'
branch_labels = None
depends_on = None

#: The subscribers' columns that decide who is owed a digest when (digest.schedule.due).
_COLUMNS = "status, timezone, send_hour, created_at, frequency, weekday, paused_until"
_POSTGRESQL = [
    """CREATE FUNCTION digest_schedule_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO schedule_changes DEFAULT VALUES;
        RETURN NULL;
    END $$""",
    f"CREATE TRIGGER subscribers_schedule_changed AFTER INSERT OR UPDATE OF {_COLUMNS} ON subscribers "
    "FOR EACH STATEMENT EXECUTE FUNCTION digest_schedule_changed()",
    "CREATE TRIGGER deliveries_removed AFTER DELETE OR TRUNCATE ON deliveries "
    "FOR EACH STATEMENT EXECUTE FUNCTION digest_schedule_changed()",
]
#: SQLite: the new row, then every older one gone (ids keep growing: the new id is one
#: more than the largest, taken before the older rows are deleted).
_SQLITE_LOG = ("INSERT INTO schedule_changes (changed_at) VALUES (CURRENT_TIMESTAMP); "
               "DELETE FROM schedule_changes WHERE id < (SELECT max(id) FROM schedule_changes);")
_SQLITE = [
    f"CREATE TRIGGER subscribers_added AFTER INSERT ON subscribers BEGIN {_SQLITE_LOG} END",
    f"CREATE TRIGGER subscribers_schedule_changed AFTER UPDATE OF {_COLUMNS} ON subscribers BEGIN {_SQLITE_LOG} END",
    f"CREATE TRIGGER deliveries_removed AFTER DELETE ON deliveries BEGIN {_SQLITE_LOG} END",
]


def upgrade() -> None:
    op.create_table(
        'schedule_changes',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'),
                  nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_changes')),
    )
    for statement in _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER deliveries_removed ON deliveries")
        op.execute("DROP TRIGGER subscribers_schedule_changed ON subscribers")
        op.execute("DROP FUNCTION digest_schedule_changed()")
    else:
        for name in ("deliveries_removed", "subscribers_schedule_changed", "subscribers_added"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table('schedule_changes')
