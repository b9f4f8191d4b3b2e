"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from digest.models import Base


def test_migrated_schema_matches_the_models(db_url):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == [], f"models and migrations differ (run scripts/regen_initial_migration.py): {differences}"


def test_rendered_bodies_use_lz4_on_postgresql(db_url):
    """Bodies are the ledger's biggest values: lz4 costs PostgreSQL a quarter of pglz's CPU."""
    if not db_url.startswith("postgresql"):
        return  # SQLite has no per-column compression
    engine = create_engine(db_url)
    with engine.connect() as conn:
        methods = dict(conn.exec_driver_sql(
            "SELECT attname, attcompression FROM pg_attribute "
            "WHERE attrelid = 'rendered_bodies'::regclass AND attname IN ('html', 'text')").all())
    engine.dispose()
    assert methods == {"html": "l", "text": "l"}
