"""rendered bodies zlib-compressed and prunable; each batch's sending moments

Revision ID: audit21_bodies
Revises: sendgrid23_rate_limit
Create Date: 2026-12-06 10:10:00

``digest audit`` (issue 21, part 6) rebuilds the email a reader was sent, months later,
from the stored body; so bodies are kept for ``[review] keep_bodies`` and stored small:

* ``rendered_bodies.html`` and ``.text`` become zlib-compressed bytes (the models'
  ``CompressedText``); every existing body is compressed here, in batches of 100 rows, on
  SQLite and PostgreSQL alike (new columns filled, the old ones dropped, the new ones
  renamed in their place). PostgreSQL keeps lz4 on them as 0001 set it: it finds nothing
  to gain in zlib's output and stores it as it is, at lz4's speed.
* ``rendered_bodies.pruned_at``: when a body's content was pruned (then ``NULL``).
* ``batches.send_moments``: when each claim of a batch built its emails (their Date
  header and the heading's date), which cannot be recomputed.

No table is rebuilt (SQLite >= 3.35 drops and renames columns in place), so no trigger is
touched. The downgrade writes the bodies back as text (a pruned one as empty text).
"""

import zlib

from alembic import op
import sqlalchemy as sa

revision = 'audit21_bodies'
down_revision = 'sendgrid23_rate_limit'
branch_labels = None
depends_on = None

_CHUNK = 100


def _convert(source: tuple[str, str], target: tuple[str, str], change) -> None:
    """Every body's ``source`` columns, changed by ``change``, into its ``target`` columns."""
    conn = op.get_bind()
    read = sa.text(f"SELECT id, {source[0]}, {source[1]} FROM rendered_bodies WHERE id > :after "
                   f"ORDER BY id LIMIT {_CHUNK}")
    write = sa.text(f"UPDATE rendered_bodies SET {target[0]} = :a, {target[1]} = :b WHERE id = :id")
    after = 0
    while True:
        rows = conn.execute(read, {"after": after}).all()
        if not rows:
            return
        conn.execute(write, [{"id": i, "a": change(a), "b": change(b)} for i, a, b in rows])
        after = rows[-1][0]


def _compress(value):
    return None if value is None else zlib.compress(value.encode("utf-8"), 6)


def _decompress(value):
    return "" if value is None else zlib.decompress(value).decode("utf-8")


def _swap(old: tuple[str, str], new: tuple[str, str]) -> None:
    for column in old:
        op.execute(f"ALTER TABLE rendered_bodies DROP COLUMN {column}")
    for column, name in zip(new, old):
        op.execute(f"ALTER TABLE rendered_bodies RENAME COLUMN {column} TO {name}")


def _lz4() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            DO $$ BEGIN
                ALTER TABLE rendered_bodies ALTER COLUMN html SET COMPRESSION lz4,
                                            ALTER COLUMN text SET COMPRESSION lz4;
            EXCEPTION WHEN feature_not_supported THEN NULL;
            END $$""")


def upgrade() -> None:
    op.add_column('batches', sa.Column('send_moments', sa.Text(), nullable=True))
    op.add_column('rendered_bodies', sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('rendered_bodies', sa.Column('html_zlib', sa.LargeBinary(), nullable=True))
    op.add_column('rendered_bodies', sa.Column('text_zlib', sa.LargeBinary(), nullable=True))
    _convert(("html", "text"), ("html_zlib", "text_zlib"), _compress)
    _swap(("html", "text"), ("html_zlib", "text_zlib"))
    _lz4()


def downgrade() -> None:
    op.add_column('rendered_bodies', sa.Column('html_plain', sa.Text(), nullable=True))
    op.add_column('rendered_bodies', sa.Column('text_plain', sa.Text(), nullable=True))
    _convert(("html", "text"), ("html_plain", "text_plain"), _decompress)
    _swap(("html", "text"), ("html_plain", "text_plain"))
    _lz4()
    op.execute("ALTER TABLE rendered_bodies DROP COLUMN pruned_at")
    op.execute("ALTER TABLE batches DROP COLUMN send_moments")
