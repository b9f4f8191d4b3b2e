"""``digest db ...``: schema migrations, and pruning old email bodies."""

from __future__ import annotations

import click

from .. import db
from . import main
from .common import State, pass_state


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target Alembic revision.")
@pass_state
def upgrade(state: State, revision: str) -> None:
    """Apply schema migrations (the Procfile's release phase runs this)."""
    engine = db.make_engine(state.settings.database_url)
    try:
        db.check_reachable(engine)
        before = db.current_revision(engine)
        db.upgrade(engine, revision)
        after = db.current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"database already at {after}")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


@db_group.command("prune-bodies")
@pass_state
def prune_bodies_command(state: State) -> None:
    """Prune the email bodies no edition younger than [review] keep_bodies uses (the
    worker does it daily); digest audit of a reader of a pruned body says so."""
    from datetime import datetime, timezone

    from ..review.prune import prune_bodies

    keep = state.settings.config.review.keep_bodies
    with state.runtime.sessions() as session:
        pruned = prune_bodies(session, keep, datetime.now(timezone.utc))
    click.echo(f"pruned {pruned} body(ies) no edition of the last {keep.days} days uses ([review] keep_bodies)")
