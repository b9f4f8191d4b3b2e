"""editions.rate_limited_until: a 429's reset, shared by every sender of the edition

Revision ID: sendgrid23_rate_limit
Revises: checklist21_results
Create Date: 2026-12-06 10:30:00

When one sender gets HTTP 429 with ``X-RateLimit-Reset``, it records the reset on the
edition; every other sender (threads, send processes, Dramatiq workers on other dynos)
reads it with its next batch's claim and waits until then
(digest.deliver.providers.rate_limit). One nullable column, added in place on both
databases (no SQLite table rebuild, so no trigger to recreate); existing rows get NULL
(never rate limited). The downgrade drops it.
"""

from alembic import op
import sqlalchemy as sa

revision = 'sendgrid23_rate_limit'
down_revision = 'checklist21_results'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('editions', sa.Column('rate_limited_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('editions') as batch:
        batch.drop_column('rate_limited_until')
