"""subscribers: frequency (daily / weekly on a weekday) and pause until a date

Revision ID: cadence20_frequency
Revises: signup20b_limits
Create Date: 2026-12-06 07:30:00

Existing readers become daily and not paused (the server default fills ``frequency``);
the downgrade drops the four columns.
"""

from alembic import op
import sqlalchemy as sa

from digest.models.base import AwareDateTime

revision = 'cadence20_frequency'
down_revision = 'signup20b_limits'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers') as batch:
        batch.add_column(sa.Column('frequency', sa.String(length=10), server_default='daily', nullable=False))
        batch.add_column(sa.Column('weekday', sa.String(length=3), nullable=True))
        batch.add_column(sa.Column('paused_until', sa.Date(), nullable=True))
        batch.add_column(sa.Column('resume_window_start', AwareDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscribers') as batch:
        batch.drop_column('resume_window_start')
        batch.drop_column('paused_until')
        batch.drop_column('weekday')
        batch.drop_column('frequency')
