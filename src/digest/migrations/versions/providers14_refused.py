"""deliveries.refused: the provider refused this address itself

Revision ID: providers14_refused
Revises: 0001
Create Date: 2026-12-06 04:15:00

A failed delivery is either retryable (a temporary refusal, a batch that never went out,
a write that failed) or refused for its own address (SendGrid 400 naming its
personalization, SMTP 5xx). ``digest send --retry-failed`` resends the first kind; the
second only once the address has changed, since the same request would be refused for
the same reason. Existing rows keep their status and become ``refused = false``
(retryable), which is what ``--retry-failed`` did with them before.
"""

from alembic import op
import sqlalchemy as sa


revision = 'providers14_refused'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('refused')
