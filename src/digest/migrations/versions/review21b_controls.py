"""edition_controls: an editor's hold or cancellation of an edition

Revision ID: review21b_controls
Revises: review21_snapshots
Create Date: 2026-12-06 08:00:00

A new table, nothing existing changed; the downgrade drops it (a held edition then goes on).
"""

from alembic import op
import sqlalchemy as sa

import digest.models

revision = 'review21b_controls'
down_revision = 'review21_snapshots'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'edition_controls',
        sa.Column('edition_id', BigId, nullable=False),
        sa.Column('held_at', digest.models.AwareDateTime(timezone=True), nullable=True),
        sa.Column('held_by', sa.String(length=200), nullable=True),
        sa.Column('cancelled_at', digest.models.AwareDateTime(timezone=True), nullable=True),
        sa.Column('cancelled_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], ondelete='CASCADE',
                                name=op.f('fk_edition_controls_edition_id_editions')),
        sa.PrimaryKeyConstraint('edition_id', name=op.f('pk_edition_controls')),
    )


def downgrade() -> None:
    op.drop_table('edition_controls')
