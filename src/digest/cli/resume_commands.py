"""``digest resume``: go on with an edition an editor held (``digest hold``), and with
``--force`` release the guards that hold sending (complaint rate, hard-bounce rate; see
:mod:`digest.report.guards`)."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from ..report.guards import active_trip, release
from . import main
from .common import State, pass_state


@main.command("resume")
@click.option("--date", "edition_date", type=click.DateTime(["%Y-%m-%d"]),
              help="The held edition to go on with (default: every held edition).")
@click.option("--force", is_flag=True, help="Also release the guards holding sending (you have read why they tripped).")
@pass_state
def resume_command(state: State, edition_date, force: bool) -> None:
    """Go on with held editions; with --force, also let sending go on after a guard
    stopped it ('digest status' says which and why).

    The queued batches then go out with the next 'digest send' or worker tick. A released
    complaint guard does not trip again for 24 hours, a hard-bounce guard not for that
    edition.
    """
    from ..review.controls import resume

    day = edition_date.date() if edition_date else None
    with state.runtime.session() as session:
        resumed = resume(session, day)
        for held_day in resumed:
            click.echo(f"resumed: edition {held_day} (its queued batches go with the next tick or 'digest send')")
        trip = active_trip(session)
        if trip is not None and not force:
            session.commit()
            if resumed:
                click.echo(f"a guard still holds sending: {trip.reason}; read 'digest status', then run "
                           "'digest resume --force' to release it")
                return
            raise click.UsageError("a guard protects the sender's reputation: read 'digest status', then "
                                   "run 'digest resume --force' to release it")
        reasons = release(session, datetime.now(timezone.utc)) if force else []
    if not reasons and not resumed:
        click.echo("no edition is held" + (" and no guard holds sending" if force else "")
                   + (f" (edition {day})" if day else ""))
    for reason in reasons:
        click.echo(f"released: {reason}")
