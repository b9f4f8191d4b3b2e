"""forgotten_addresses: keyed hashes of the addresses of readers who asked to be forgotten

Revision ID: signup20_forgotten
Revises: report22_guards
Create Date: 2026-12-06 05:25:00

A new table, nothing existing changed.
"""

from alembic import op
import sqlalchemy as sa

revision = 'signup20_forgotten'
down_revision = 'report22_guards'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'forgotten_addresses',
        sa.Column('address_hash', sa.String(length=64), nullable=False),
        sa.Column('forgotten_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('address_hash', name=op.f('pk_forgotten_addresses')),
    )


def downgrade() -> None:
    op.drop_table('forgotten_addresses')
