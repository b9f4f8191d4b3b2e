"""``digest demo``: the embedded default, offline."""

from __future__ import annotations

import click

from ..deliver.summary import format_summary
from ..demo import run_demo
from . import main
from .common import State, pass_state


@main.command("demo")
@pass_state
def demo_command(state: State) -> None:
    """Ingest the bundled sample content into SQLite, add sample subscribers, and deliver
    today's digest to each through the outbox provider (no network, no keys needed).

    Honours DATABASE_URL, DIGEST_OUTBOX, DIGEST_BASE_URL, DIGEST_SECRET_KEY and
    DIGEST_PROVIDER when they are set.
    """
    state.demo = True
    settings = state.settings
    click.echo(f"publication: {settings.config.publication.name} (config: {settings.config_path})")
    click.echo(f"database:    {settings.database_url}")
    report = run_demo(state.runtime)

    click.echo("\n1. ingested the sample content")
    click.echo(report.ingest.format())
    subs = report.subscribers
    click.echo(
        f"\n2. sample subscribers: {subs.created} added, {subs.updated} updated, {subs.unchanged} unchanged"
        + (f", {len(subs.errors)} rejected" if subs.errors else "")
    )
    click.echo("\n3. today's edition")
    click.echo(format_summary(report.edition))
    for line in report.edition.problems():
        click.echo(f"warning: {line}", err=True)

    click.echo("\nwhere to look:")
    if report.outbox is not None:
        emails = sorted(report.outbox.rglob("*.eml"))
        click.echo(f"  outbox:   {report.outbox} ({len(emails)} .eml file(s); open one in a mail client)")
        for path in emails[-3:]:
            click.echo(f"            {path.name}")
    if report.edition.sent == 0 and report.edition.skipped:
        click.echo("  nothing new was sent: today's edition was already delivered to these subscribers "
                   "(use another DATABASE_URL, or remove the SQLite file, to start over)")
    click.echo("  preview:  digest preview --open          (the all-topics edition in your browser)")
    click.echo("  live:     digest preview --serve         (re-renders as you edit templates/email/)")
    click.echo("  web:      DIGEST_SECRET_KEY=... digest web   (unsubscribe and preferences pages)")
