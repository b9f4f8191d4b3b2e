"""consent_records: one row per consent event of a subscriber (signup, confirm, resubscribe)

Revision ID: signup20_consents
Revises: once15_settlement
Create Date: 2026-12-06 05:15:00

A new table, nothing existing changed. Readers who consented before this revision keep
what ``subscribers.consent_source`` and ``consented_at`` say.
"""

from alembic import op
import sqlalchemy as sa

revision = 'signup20_consents'
down_revision = 'once15_settlement'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'consent_records',
        sa.Column('id', BigId, nullable=False),
        sa.Column('subscriber_id', BigId, nullable=False),
        sa.Column('event', sa.String(length=20), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('client_ip', sa.String(length=45), nullable=True),
        sa.Column('user_agent', sa.String(length=500), nullable=True),
        sa.Column('source', sa.String(length=500), nullable=True),
        sa.Column('wording', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ondelete='CASCADE',
                                name=op.f('fk_consent_records_subscriber_id_subscribers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records')),
    )
    op.create_index(op.f('ix_consent_records_subscriber_id'), 'consent_records', ['subscriber_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_consent_records_subscriber_id'), table_name='consent_records')
    op.drop_table('consent_records')
