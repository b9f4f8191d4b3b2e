"""rate_limit_hits: the web's signup limits in the database when REDIS_URL is unset

Revision ID: signup20b_limits
Revises: report22b_sent
Create Date: 2026-12-06 06:00:00

A new table, nothing existing changed; the downgrade drops it (its counters are minutes old
at most an hour, a day for confirmations: losing them only resets the windows).
"""

from alembic import op
import sqlalchemy as sa

revision = 'signup20b_limits'
down_revision = 'report22b_sent'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_limit_hits',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('window_end', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_hits')),
    )


def downgrade() -> None:
    op.drop_table('rate_limit_hits')
