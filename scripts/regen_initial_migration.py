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
