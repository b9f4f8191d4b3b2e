"""edition_counters and reader_figures: what happened after send, counted as events arrive

Revision ID: report22_counters
Revises: providers14_refused
Create Date: 2026-12-06 05:00:00

Two new tables, nothing existing changed: ``edition_counters`` (one row per edition, day,
figure and item) and ``reader_figures`` (a reader counted once per figure and edition).
Events stored before this revision are not counted (the report starts from here).
"""

from alembic import op
import sqlalchemy as sa


revision = 'report22_counters'
down_revision = 'providers14_refused'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'edition_counters',
        sa.Column('id', BigId, nullable=False),
        sa.Column('edition_id', BigId, nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('figure', sa.String(length=40), nullable=False),
        sa.Column('item', sa.String(length=100), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_edition_counters')),
        sa.UniqueConstraint('edition_id', 'day', 'figure', 'item', name=op.f('uq_edition_counters_edition_id')),
    )
    op.create_table(
        'reader_figures',
        sa.Column('id', BigId, nullable=False),
        sa.Column('edition_id', BigId, nullable=False),
        sa.Column('subscriber_id', BigId, nullable=False),
        sa.Column('figure', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reader_figures')),
        sa.UniqueConstraint('edition_id', 'subscriber_id', 'figure', name=op.f('uq_reader_figures_edition_id')),
    )


def downgrade() -> None:
    op.drop_table('reader_figures')
    op.drop_table('edition_counters')
