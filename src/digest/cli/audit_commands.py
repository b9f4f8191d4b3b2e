"""``digest audit EMAIL --date D``: the email a reader was sent, built again byte for byte
(:mod:`digest.review.audit`), with who approved it and how it was sent."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import main
from .common import State, pass_state


@main.command("audit")
@click.argument("email")
@click.option("--date", "edition_date", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="The edition's date.")
@click.option("--format", "fmt", type=click.Choice(["eml", "html", "txt"]), default="eml", show_default=True,
              help="eml: the whole message; html, txt: that part as handed to the provider.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
              help="Default: audit-DATE-delivery<ID>.FORMAT here; - for standard output.")
@pass_state
def audit_command(state: State, email: str, edition_date, fmt: str, output: Path | None) -> None:
    """Rebuild the email EMAIL was sent in the edition of --date, from the stored body and
    the reader's tokens, and say who approved it, the snapshot's fingerprint, the provider
    and its message id, the batch and when it was sent (on stderr). A reader not sent that
    edition (skipped, not in it, or its body pruned): one line, exit status 1."""
    from ..review.audit import audit_reader

    day = edition_date.date()
    audit = audit_reader(state.runtime, email, day)
    for line in audit.lines:
        click.echo(line, err=True)
    if audit.email is None:
        click.echo(audit.reason, err=True)
        sys.exit(1)
    for warning in audit.warnings:
        click.echo(f"warning: {warning}", err=True)
    data = {"eml": audit.email, "html": audit.html.encode(), "txt": audit.text.encode()}[fmt]
    if str(output) == "-":
        click.echo(data, nl=False)  # bytes, as they are
        return
    path = output or Path(f"audit-{day.isoformat()}-delivery{audit.delivery_id:09d}.{fmt}")
    path.write_bytes(data)
    click.echo(f"wrote {path} ({len(data)} bytes)", err=True)
