"""subscribers.left_xid, batches.plan_xmin: a claim checks only readers who left since planning

Revision ID: left23_departures
Revises: ledgerindex23_edition_key
Create Date: 2026-12-07 07:00:00

A claimed batch leaves out readers who unsubscribed (or bounced, or complained) after it
was planned. That was a probe of the inactive readers' index for every row of every batch
(where a fifth of the readers had left, half of the read's CPU). On
PostgreSQL a reader's departure now records the transaction that made it (``left_xid``,
set by a trigger, so every writer is covered: the web, imports, provider events, an
operator's SQL), and a plan records the oldest transaction still running when it began
reading its readers (``plan_xmin``, ``pg_snapshot_xmin``). A departure the plan may not
have seen was made by a transaction no older than that, so a batch's read asks only about
readers who left in those: a handful, hashed once per statement
(:mod:`digest.deliver.recipients`).

Readers who left before this revision get ``left_xid`` 0; a batch planned before it has no
``plan_xmin`` and is checked against every reader who left, as before. SQLite (one writer
at a time, small lists) keeps the probe and leaves both columns empty. New columns, a
partial index and a trigger: nothing existing changes; the downgrade drops them.
"""

from alembic import op
import sqlalchemy as sa

revision = 'left23_departures'
down_revision = 'ledgerindex23_edition_key'
branch_labels = None
depends_on = None

_POSTGRESQL = [
    """CREATE FUNCTION digest_reader_left() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.left_xid := pg_current_xact_id()::text::bigint;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER subscribers_left_on_insert BEFORE INSERT ON subscribers FOR EACH ROW "
    "WHEN (NEW.status <> 'active') EXECUTE FUNCTION digest_reader_left()",
    "CREATE TRIGGER subscribers_left BEFORE UPDATE OF status ON subscribers FOR EACH ROW "
    "WHEN (NEW.status <> 'active' AND NEW.status IS DISTINCT FROM OLD.status) EXECUTE FUNCTION digest_reader_left()",
]
_NOT_ACTIVE = sa.text("status <> 'active'")


def upgrade() -> None:
    op.add_column('subscribers', sa.Column('left_xid', sa.BigInteger(), nullable=True))
    op.add_column('batches', sa.Column('plan_xmin', sa.BigInteger(), nullable=True))
    op.create_index('ix_subscribers_left', 'subscribers', ['left_xid'], unique=False,
                    postgresql_where=_NOT_ACTIVE, sqlite_where=_NOT_ACTIVE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE subscribers SET left_xid = 0 WHERE status <> 'active'")
        for statement in _POSTGRESQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER subscribers_left ON subscribers")
        op.execute("DROP TRIGGER subscribers_left_on_insert ON subscribers")
        op.execute("DROP FUNCTION digest_reader_left()")
    op.drop_index('ix_subscribers_left', 'subscribers', postgresql_where=_NOT_ACTIVE, sqlite_where=_NOT_ACTIVE)
    # Plain ALTERs (SQLite 3.35+ drops a column in place): a rebuilt table would lose its triggers.
    op.drop_column('batches', 'plan_xmin')
    op.drop_column('subscribers', 'left_xid')
