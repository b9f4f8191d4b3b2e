"""``digest draft``, ``approve``, ``hold``, ``redraft`` and ``cancel``: editors in control of an
edition (:mod:`digest.review`). ``digest resume`` is in :mod:`.resume_commands`."""

from __future__ import annotations

import getpass
from datetime import datetime, timezone

import click

from . import main
from .common import State, pass_state

_date = click.option("--date", "edition_date", type=click.DateTime(["%Y-%m-%d"]),
                     help="Edition date (default: today in the publication's zone).")


def _editor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@main.command("draft")
@_date
@pass_state
def draft_command(state: State, edition_date) -> None:
    """Draft the edition now: fix its items (the snapshot), render each distinct body, send
    the seed proofs ([review] seed). A drafted edition is left as it is."""
    from ..review.draft import draft_edition, seed_provider

    day = edition_date.date() if edition_date else state.today()
    with seed_provider(state.settings) as provider:
        report = draft_edition(state.runtime, day, now=datetime.now(timezone.utc), by=_editor(), provider=provider)
    _print_draft(state, day, report)


def _print_draft(state: State, day, report) -> None:
    for line in report.lines():
        click.echo(line)
    if state.settings.config.review.approval == "required":
        click.echo(f"next: look at it ('digest preview --serve --date {day}'), then 'digest approve --date {day}'")


@main.command("approve")
@_date
@click.option("--fingerprint", metavar="HEX", help="The snapshot fingerprint you looked at (refused if it changed).")
@click.option("--by", "by", metavar="NAME", help="Who approves (default: your login name).")
@click.option("--despite", is_flag=True,
              help="Approve even though a body fails a check of the email checklist (recorded with the approval).")
@pass_state
def approve_command(state: State, edition_date, fingerprint, by, despite) -> None:
    """Approve the edition's current snapshot: its readers get it from the next tick on
    (those whose hour passed meanwhile at once, within the catch-up window). While a body
    fails a check of the email checklist, only with ``--despite``, as the review page asks
    for its 'approve despite' box."""
    from ..review.approval import approve

    day = edition_date.date() if edition_date else state.today()
    with state.runtime.sessions() as session:
        approval = approve(session, day, by=by or _editor(), now=datetime.now(timezone.utc), fingerprint=fingerprint,
                           despite=despite)
        click.echo(f"edition {day}: snapshot {approval.fingerprint[:12]} approved by {approval.approved_by} at "
                   f"{approval.approved_at:%Y-%m-%d %H:%M:%S}Z"
                   + (f", despite: {approval.failed_checks.replace(chr(10), ', ')}" if approval.failed_checks else ""))


@main.command("hold")
@_date
@pass_state
def hold_command(state: State, edition_date) -> None:
    """Stop the edition: no batch of it starts from now on (batches being sent finish; the
    rest stay queued) until 'digest resume --date D'."""
    from ..review.controls import hold

    day = edition_date.date() if edition_date else state.today()
    with state.runtime.sessions() as session:
        click.echo(hold(session, day, by=_editor(), now=datetime.now(timezone.utc)))


@main.command("redraft")
@_date
@pass_state
def redraft_command(state: State, edition_date) -> None:
    """Take a new snapshot of the edition (new items, edited ones): readers already sent to
    keep what they got; the others get the new content (once approved, when required)."""
    from ..review.controls import redraft
    from ..review.draft import seed_provider

    day = edition_date.date() if edition_date else state.today()
    with seed_provider(state.settings) as provider:
        unplanned, report = redraft(state.runtime, day, by=_editor(), now=datetime.now(timezone.utc),
                                    provider=provider)
    click.echo(f"edition {day}: {unplanned.batches} queued batch(es) taken apart: {unplanned.readers} reader(s), "
               f"and {unplanned.nothing_new} who had nothing new, get the new snapshot")
    _print_draft(state, day, report)


@main.command("cancel")
@_date
@pass_state
def cancel_command(state: State, edition_date) -> None:
    """End the edition for good: every reader not sent to yet is recorded as skipped
    (cancelled). Batches being sent finish."""
    from ..review.controls import cancel

    day = edition_date.date() if edition_date else state.today()
    unplanned = cancel(state.runtime, day, by=_editor(), now=datetime.now(timezone.utc))
    click.echo(f"edition {day} cancelled: {unplanned.batches} queued batch(es) taken apart; "
               f"{unplanned.readers + unplanned.not_planned} reader(s) recorded as skipped (cancelled)")
