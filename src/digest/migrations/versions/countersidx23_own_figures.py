"""edition_counters: an index of the editions' own figures by figure and day

Revision ID: countersidx23_own_figures
Revises: nofk23_subscriber_key
Create Date: 2026-12-06 19:10:00

Before every batch the guards sum the delivered and complained figures of every edition
over the last 7 days (``item = ''``, a figure, ``day >= since``). The unique key leads with
the edition and did not fit: PostgreSQL scanned the whole table, some 630,000 rows after a
year of daily editions, on every claim. The index is partial (``WHERE item = ''``, about 93
rows an edition of some 1,700) and holds no ``count`` (an INCLUDE would make every counter
UPDATE a non-HOT one). Rows are untouched. On PostgreSQL the build takes a lock that holds
counter writes (the webhook's, the settles') for its duration: the whole upgrade took
0.75 s at a year's rows.
"""

from alembic import op
import sqlalchemy as sa

revision = 'countersidx23_own_figures'
down_revision = 'nofk23_subscriber_key'
branch_labels = None
depends_on = None

_NAME = 'ix_edition_counters_own_figure_day'
_OWN = sa.text("item = ''")


def upgrade() -> None:
    op.create_index(_NAME, 'edition_counters', ['figure', 'day'], unique=False, postgresql_where=_OWN,
                    sqlite_where=_OWN)


def downgrade() -> None:
    op.drop_index(_NAME, table_name='edition_counters')
