"""``digest ingest``: pull the configured sources (or the given ones) into the store."""

from __future__ import annotations

import sys

import click

from . import main
from .common import State, pass_state


@main.command("ingest")
@click.option("--url", "urls", multiple=True, metavar="URL",
              help="A feed URL, feed file, Markdown file or folder to ingest instead of the "
                   "configured sources. Repeat for several.")
@pass_state
def ingest(state: State, urls: tuple[str, ...]) -> None:
    """Fetch feeds and content folders, store new and edited items, print a summary.

    Exits non-zero only when every source failed.
    """
    from ..ingest import ingest_sources, ingest_urls

    runtime = state.runtime
    if urls:
        report = ingest_urls(runtime, urls)
    else:
        report = ingest_sources(runtime, runtime.settings.config.sources)
    click.echo(report.format())
    if report.all_failed:
        click.echo("error: every source failed", err=True)
        sys.exit(1)
