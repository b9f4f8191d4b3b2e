"""settlement of ambiguous deliveries by provider events

Revision ID: once15_settlement
Revises: report22_counters
Create Date: 2026-12-06 04:20:00

Adds ``deliveries.settled_by`` (the event that settled an ambiguous delivery),
``provider_events.delivery_id`` (the delivery an event concerns, indexed) and
``batches.readers_in_doubt`` (a settled batch with readers still ambiguous, with a
partial index). Existing rows keep their values; the new columns start empty/false.
"""

from alembic import op
import sqlalchemy as sa

revision = "once15_settlement"
down_revision = "report22_counters"
branch_labels = None
depends_on = None

_IN_DOUBT = sa.text("readers_in_doubt")


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("settled_by", sa.String(length=300), nullable=True))
    with op.batch_alter_table("provider_events") as batch_op:
        batch_op.add_column(sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                      nullable=True))
        batch_op.create_index("ix_provider_events_delivery_id", ["delivery_id"], unique=False)
    with op.batch_alter_table("batches") as batch_op:
        batch_op.add_column(sa.Column("readers_in_doubt", sa.Boolean(), server_default=sa.text("false"),
                                      nullable=False))
        batch_op.create_index("ix_batches_in_doubt", ["id"], unique=False, postgresql_where=_IN_DOUBT,
                              sqlite_where=_IN_DOUBT)


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch_op:
        batch_op.drop_index("ix_batches_in_doubt", postgresql_where=_IN_DOUBT, sqlite_where=_IN_DOUBT)
        batch_op.drop_column("readers_in_doubt")
    with op.batch_alter_table("provider_events") as batch_op:
        batch_op.drop_index("ix_provider_events_delivery_id")
        batch_op.drop_column("delivery_id")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("settled_by")
