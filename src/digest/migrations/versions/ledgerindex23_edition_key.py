"""deliveries keyed (edition_id, subscriber_id); no index on edition_id alone

Revision ID: ledgerindex23_edition_key
Revises: countersidx23_own_figures
Create Date: 2026-12-06 19:10:00

A planner inserts one edition's rows in subscriber order. Under the old key (subscriber,
edition) each entry went next to that reader's earlier rows, all over an index as big as
the ledger (page splits, and a full-page image in the WAL for each leaf page first touched
after a checkpoint, more with every edition kept); edition first, they go at the index's
right end. The key's leading column serves the edition's queries, so the index on
``edition_id`` alone goes (one index fewer written per row). A reader's rows are found
edition by edition (``digest.deliver.ledger.reader_rows``). Every row is kept; building the
new key reads the whole ledger once. On SQLite the table is rebuilt and its trigger
(``deliveries_removed``, tick23_changes) made again as it was.
"""

from alembic import op

from digest.migrations.sqlite_rebuild import rebuilt_on_sqlite

revision = 'ledgerindex23_edition_key'
down_revision = 'countersidx23_own_figures'
branch_labels = None
depends_on = None

_OLD_KEY = 'uq_deliveries_subscriber_id'  # (subscriber_id, edition_id), revision 0001
_NEW_KEY = 'uq_deliveries_edition_id'  # (edition_id, subscriber_id)
_EDITION_INDEX = 'ix_deliveries_edition_id'


def _rebuilt_on_sqlite(change) -> None:
    rebuilt_on_sqlite('deliveries', change)


def _swap(batch_op, drop_key, add_key, add_columns, drop_index, add_index) -> None:
    batch_op.drop_constraint(drop_key, type_='unique')
    batch_op.create_unique_constraint(add_key, add_columns)
    if drop_index:
        batch_op.drop_index(drop_index)
    if add_index:
        batch_op.create_index(add_index, ['edition_id'], unique=False)


def upgrade() -> None:
    args = (_OLD_KEY, _NEW_KEY, ['edition_id', 'subscriber_id'], _EDITION_INDEX, None)
    if op.get_bind().dialect.name == 'postgresql':
        with op.batch_alter_table('deliveries') as batch_op:  # plain ALTERs on PostgreSQL
            _swap(batch_op, *args)
    else:
        _rebuilt_on_sqlite(lambda batch_op: _swap(batch_op, *args))


def downgrade() -> None:
    args = (_NEW_KEY, _OLD_KEY, ['subscriber_id', 'edition_id'], None, _EDITION_INDEX)
    if op.get_bind().dialect.name == 'postgresql':
        with op.batch_alter_table('deliveries') as batch_op:
            _swap(batch_op, *args)
    else:
        _rebuilt_on_sqlite(lambda batch_op: _swap(batch_op, *args))
