"""edition_counters.shard: the edition's sent figure counted on a row per sending thread

Revision ID: sendpath23_counter_shards
Revises: audit21_bodies
Create Date: 2026-12-06 11:50:00

Every settled batch added its readers to the edition's one ``sent`` row, and held that
row's lock through its commit's WAL flush: the commonest wait of the database while an
edition is sent. A counter is now the sum of its rows over ``shard`` (0 for every figure
the webhook counts; the sending thread's for ``sent``), which every reader already sums.
Existing rows keep their counts as shard 0. The unique key gains ``shard``; on SQLite the
table is rebuilt (it has no triggers). The downgrade sums the shards back into one row.
"""

from alembic import op
import sqlalchemy as sa

revision = 'sendpath23_counter_shards'
down_revision = 'audit21_bodies'
branch_labels = None
depends_on = None

_OLD_KEY = ['edition_id', 'day', 'figure', 'item']


def upgrade() -> None:
    with op.batch_alter_table('edition_counters') as batch:
        batch.add_column(sa.Column('shard', sa.SmallInteger(), nullable=False, server_default='0'))
        batch.drop_constraint('uq_edition_counters_edition_id', type_='unique')
        batch.create_unique_constraint('uq_edition_counters_edition_id', _OLD_KEY + ['shard'])


_SAME_KEY = ("c.edition_id = edition_counters.edition_id AND c.day = edition_counters.day "
             "AND c.figure = edition_counters.figure AND c.item = edition_counters.item")


def downgrade() -> None:
    conn = op.get_bind()  # each counter's sum on its first row, the other rows gone
    conn.execute(sa.text(f"UPDATE edition_counters SET count = (SELECT sum(c.count) FROM edition_counters c "
                         f"WHERE {_SAME_KEY}) WHERE id = (SELECT min(c.id) FROM edition_counters c WHERE {_SAME_KEY})"))
    conn.execute(sa.text(f"DELETE FROM edition_counters WHERE id <> (SELECT min(c.id) FROM edition_counters c "
                         f"WHERE {_SAME_KEY})"))
    with op.batch_alter_table('edition_counters') as batch:
        batch.drop_constraint('uq_edition_counters_edition_id', type_='unique')
        batch.create_unique_constraint('uq_edition_counters_edition_id', _OLD_KEY)
        batch.drop_column('shard')
