"""deliveries.subscriber_id is no longer a foreign key

Revision ID: nofk23_subscriber_key
Revises: sendpath23_counter_shards
Create Date: 2026-12-06 16:30:00

The key's per-row trigger (a look-up and a key-share lock of the reader's row) was 40-55%
of the delivery INSERT's time in PostgreSQL. What its ``ON DELETE CASCADE`` guaranteed is
now done by the code (``digest.deliver.ledger.erasure``): every INSERT joins
``subscribers``, and whoever deletes a reader deletes their rows first, under a lock that
keeps erasures and planners' writes apart. Every row is kept. On SQLite the table is
rebuilt, and its triggers (``deliveries_removed``, tick23_changes) are made again as they
were. The downgrade deletes rows of readers no longer there, then adds the key back.
"""

from alembic import op

from digest.migrations.sqlite_rebuild import rebuilt_on_sqlite

revision = 'nofk23_subscriber_key'
down_revision = 'sendpath23_counter_shards'
branch_labels = None
depends_on = None

_KEY = 'fk_deliveries_subscriber_id_subscribers'  # its name in revision 0001


def _rebuilt_on_sqlite(change) -> None:
    rebuilt_on_sqlite('deliveries', change)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(_KEY, 'deliveries', type_='foreignkey')
    else:
        _rebuilt_on_sqlite(lambda batch_op: batch_op.drop_constraint(_KEY, type_='foreignkey'))


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE NOT EXISTS "
               "(SELECT 1 FROM subscribers WHERE subscribers.id = deliveries.subscriber_id)")
    if op.get_bind().dialect.name == 'postgresql':
        op.create_foreign_key(_KEY, 'deliveries', 'subscribers', ['subscriber_id'], ['id'], ondelete='CASCADE')
    else:
        _rebuilt_on_sqlite(lambda batch_op: batch_op.create_foreign_key(
            _KEY, 'subscribers', ['subscriber_id'], ['id'], ondelete='CASCADE'))
