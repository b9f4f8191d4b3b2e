"""edition_snapshots, draft_bodies, edition_approvals, review_proofs: editors approve editions

Revision ID: review21_snapshots
Revises: cadence20_frequency
Create Date: 2026-12-06 07:30:00

New tables, nothing existing changed. With `[review] approval = "none"` (the default) they
stay empty and every edition goes as before. The downgrade drops them (an edition waiting
for approval would then be sent at its readers' hours as before).
"""

from alembic import op
import sqlalchemy as sa

import digest.models

revision = 'review21_snapshots'
down_revision = 'cadence20_frequency'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'edition_snapshots',
        sa.Column('id', BigId, nullable=False),
        sa.Column('edition_id', BigId, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('taken_at', digest.models.AwareDateTime(timezone=True), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('briefing_ids', sa.Text(), nullable=False),
        sa.Column('video_ids', sa.Text(), nullable=False),
        sa.Column('drafted_by', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], ondelete='CASCADE',
                                name=op.f('fk_edition_snapshots_edition_id_editions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_edition_snapshots')),
        sa.UniqueConstraint('edition_id', 'version', name=op.f('uq_edition_snapshots_edition_id')),
    )
    op.create_table(
        'draft_bodies',
        sa.Column('id', BigId, nullable=False),
        sa.Column('snapshot_id', BigId, nullable=False),
        sa.Column('body_id', BigId, nullable=False),
        sa.Column('topics', sa.String(length=1000), nullable=False),
        sa.Column('readers', sa.Integer(), nullable=False),
        sa.Column('html_bytes', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['snapshot_id'], ['edition_snapshots.id'], ondelete='CASCADE',
                                name=op.f('fk_draft_bodies_snapshot_id_edition_snapshots')),
        sa.ForeignKeyConstraint(['body_id'], ['rendered_bodies.id'],
                                name=op.f('fk_draft_bodies_body_id_rendered_bodies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_bodies')),
    )
    op.create_index('ix_draft_bodies_snapshot_id', 'draft_bodies', ['snapshot_id'])
    op.create_table(
        'edition_approvals',
        sa.Column('id', BigId, nullable=False),
        sa.Column('edition_id', BigId, nullable=False),
        sa.Column('snapshot_id', BigId, nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('approved_by', sa.String(length=200), nullable=False),
        sa.Column('approved_at', digest.models.AwareDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], ondelete='CASCADE',
                                name=op.f('fk_edition_approvals_edition_id_editions')),
        sa.ForeignKeyConstraint(['snapshot_id'], ['edition_snapshots.id'], ondelete='CASCADE',
                                name=op.f('fk_edition_approvals_snapshot_id_edition_snapshots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_edition_approvals')),
    )
    op.create_index('ix_edition_approvals_edition_id', 'edition_approvals', ['edition_id'])
    op.create_table(
        'review_proofs',
        sa.Column('id', BigId, nullable=False),
        sa.Column('snapshot_id', BigId, nullable=False),
        sa.Column('address', sa.String(length=320), nullable=False),
        sa.Column('topics', sa.String(length=1000), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('provider_message_id', sa.String(length=200), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('sent_at', digest.models.AwareDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['snapshot_id'], ['edition_snapshots.id'], ondelete='CASCADE',
                                name=op.f('fk_review_proofs_snapshot_id_edition_snapshots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_proofs')),
    )
    op.create_index('ix_review_proofs_snapshot_id', 'review_proofs', ['snapshot_id'])


def downgrade() -> None:
    op.drop_table('review_proofs')
    op.drop_table('edition_approvals')
    op.drop_table('draft_bodies')
    op.drop_table('edition_snapshots')
