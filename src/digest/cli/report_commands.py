"""``digest report``: what happened to the editions of a period after they were sent."""

from __future__ import annotations

from datetime import timedelta

import click

from ..report.formats import FORMATS, render
from ..report.reading import read_report
from . import main
from .common import State, pass_state


@main.command("report")
@click.option("--date", "edition_date", type=click.DateTime(["%Y-%m-%d"]), help="The editions of this date.")
@click.option("--days", type=click.IntRange(1, 3660), help="The editions of the last N days, today included "
              "(default 7).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="A table for the terminal; CSV (one row per edition) or JSON (everything) for scripts.")
@pass_state
def report_command(state: State, edition_date, days, fmt) -> None:
    """Delivery and engagement of each edition: sent, delivered, deferred, bounced, blocked,
    dropped, opened (machine opens apart), clicked, unsubscribed, complained, and their rates;
    the top clicked items and each topic's open and click rates."""
    if edition_date and days:
        raise click.UsageError("give --date or --days, not both")
    if edition_date:
        start = end = edition_date.date()
    else:
        end = state.today()
        start = end - timedelta(days=(days or 7) - 1)
    runtime = state.runtime
    with runtime.session() as session:
        report = read_report(session, start, end)
    tracking = state.settings.config.tracking
    report.untracked = tuple(kind for kind, on in (("open", tracking.open), ("click", tracking.click)) if on is False)
    click.echo(render(report, fmt).rstrip("\n"))
