"""``digest preview``: the email a subscriber would get, as a file or a live page."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import click

from ..preview import FORMATS, PreviewRequest, build_preview
from . import main
from .common import State, pass_state

SERVE_PORT = 8025


@main.command("preview")
@click.option("--topics", default="", metavar="A,B", help="Comma-separated topic slugs (default: every topic).")
@click.option("--subscriber", metavar="EMAIL", help="Preview exactly what this subscriber would get.")
@click.option("--date", "edition_date", type=click.DateTime(formats=["%Y-%m-%d"]), help="Edition date (default: today).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
              help="Default: preview-DATE.FORMAT here; - for standard output.")
@click.option("--open", "open_browser", is_flag=True, help="Open the result in the default browser.")
@click.option("--serve", is_flag=True, help="Serve a live page that re-renders on every change.")
@click.option("--port", type=int, default=SERVE_PORT, show_default=True, help="Port for --serve (127.0.0.1 only).")
@pass_state
def preview(state: State, topics, subscriber, edition_date, fmt, output, open_browser, serve, port) -> None:
    """Build a preview. Never sends, never touches the delivery ledger."""
    if serve:
        from ..preview.server import serve as run_server

        run_server(state.runtime, port, open_browser=open_browser)
        return

    request = PreviewRequest(
        topics=tuple(t.strip() for t in topics.split(",") if t.strip()),
        subscriber=subscriber,
        edition_date=edition_date.date() if edition_date else None,
    )
    with state.runtime.session() as session:
        result = build_preview(session, state.settings, request)
        session.rollback()
    if result.would_skip:  # no empty email: say why there is none
        click.echo(result.nothing_new())
        return
    click.echo(f"subject: {result.rendered.subject}", err=True)
    click.echo(f"preheader: {result.rendered.preheader}", err=True)
    if str(output) == "-":
        click.echo(result.render_as(fmt), nl=False)  # bytes, as they are
        return
    path = output or Path(f"preview-{result.selection.edition_date.isoformat()}.{fmt}")
    path.write_bytes(result.render_as(fmt))
    click.echo(str(path))
    if open_browser:
        webbrowser.open(path.resolve().as_uri())
