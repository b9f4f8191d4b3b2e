"""draft_bodies.checklist, edition_approvals.failed_checks: the email checklist on drafted bodies

Revision ID: checklist21_results
Revises: tick23_changes
Create Date: 2026-12-06 10:30:00

Drafting an edition now runs the email checklist on each distinct body and keeps the result
with the body (JSON: each check's name and what failed); the review pages show it. An
approval given while a check failed records which ones. Two nullable columns, nothing
existing changed: bodies drafted before have no checklist (the pages say so), approvals
before failed none. The downgrade drops the columns (SQLite: a batch rebuild of these two
tables, which carry no triggers).
"""

from alembic import op
import sqlalchemy as sa

revision = 'checklist21_results'
down_revision = 'tick23_changes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('draft_bodies', sa.Column('checklist', sa.JSON(), nullable=True))
    op.add_column('edition_approvals', sa.Column('failed_checks', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('edition_approvals') as batch:
        batch.drop_column('failed_checks')
    with op.batch_alter_table('draft_bodies') as batch:
        batch.drop_column('checklist')
