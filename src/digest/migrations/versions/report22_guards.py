"""guard_trips: the sending guards (complaint rate, hard-bounce rate) that stopped sending

Revision ID: report22_guards
Revises: signup20_consents
Create Date: 2026-12-06 05:10:00

One new table; nothing existing changed.
"""

from alembic import op
import sqlalchemy as sa
import digest.models


revision = 'report22_guards'
down_revision = 'signup20_consents'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'guard_trips',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('guard', sa.String(length=40), nullable=False),
        sa.Column('edition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('tripped_at', digest.models.AwareDateTime(timezone=True), nullable=False),
        sa.Column('released_at', digest.models.AwareDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_guard_trips')),
    )


def downgrade() -> None:
    op.drop_table('guard_trips')
