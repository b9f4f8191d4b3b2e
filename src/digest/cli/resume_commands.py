"""``digest resume --force``: release the guards that hold sending (complaint rate,
hard-bounce rate; see :mod:`digest.report.guards`)."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from ..report.guards import release
from . import main
from .common import State, pass_state


@main.command("resume")
@click.option("--force", is_flag=True, help="Release the guards holding sending (you have read why they tripped).")
@pass_state
def resume_command(state: State, force: bool) -> None:
    """Let sending go on after a guard stopped it ('digest status' says which and why).

    The queued batches then go out with the next 'digest send' or worker tick. A released
    complaint guard does not trip again for 24 hours, a hard-bounce guard not for that
    edition.
    """
    if not force:
        raise click.UsageError("a guard protects the sender's reputation: read 'digest status', then "
                               "run 'digest resume --force' to release it")
    with state.runtime.session() as session:
        reasons = release(session, datetime.now(timezone.utc))
    if not reasons:
        click.echo("no guard holds sending")
    for reason in reasons:
        click.echo(f"released: {reason}")
