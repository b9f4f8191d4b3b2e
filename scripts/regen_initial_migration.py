"""Regenerate migrations/versions/0001 from the models.

Only while the project is unreleased (no production database at 0001 yet): after the
first deploy, every schema change gets a new revision instead.
"""

import os
import tempfile
from pathlib import Path

from alembic import command

from digest.db import alembic_config, make_engine

versions = Path(__file__).resolve().parents[1] / "src" / "digest" / "migrations" / "versions"
for old in versions.glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{os.path.join(tmp, 'gen.db')}")
    command.revision(alembic_config(engine), message="initial schema", autogenerate=True, rev_id="0001")

# What autogenerate cannot express: PostgreSQL-only storage settings, appended to upgrade().
POSTGRESQL_ONLY = '''
    if op.get_bind().dialect.name == "postgresql":
        # Rendered bodies (~70 KB of HTML each) compressed with lz4: about 4x less
        # PostgreSQL CPU to store and half to read than the default pglz. A server
        # built without lz4 keeps pglz.
        op.execute("""
            DO $$ BEGIN
                ALTER TABLE rendered_bodies ALTER COLUMN html SET COMPRESSION lz4,
                                            ALTER COLUMN text SET COMPRESSION lz4;
            EXCEPTION WHEN feature_not_supported THEN NULL;
            END $$""")
'''
(generated,) = versions.glob("0001_*.py")
source = generated.read_text()
marker = "    # ### end Alembic commands ###\n"
upgrade_end = source.index(marker) + len(marker)
generated.write_text(source[:upgrade_end] + POSTGRESQL_ONLY + source[upgrade_end:])
