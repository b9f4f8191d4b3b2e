"""``digest send``: today's edition (or --date) to every active subscriber who has not had it."""

from __future__ import annotations

import signal
import sys
from datetime import date, datetime, timezone

import click

from ..deliver.edition import send_edition
from ..deliver.providers.factory import make_provider
from ..deliver.proof import send_proof
from ..deliver.batch import BatchOutcome
from ..review.gate import EditionWaits
from ..deliver.summary import EXIT_OWED, EXIT_PARTLY_SENT, format_summary
from . import main
from .common import State, pass_state


class _ProgressBar:
    """A click progress bar over batches, opened once the number of batches is known."""

    def __init__(self) -> None:
        self._bar = None

    def planned(self, batches: int) -> None:
        if batches:
            self._bar = click.progressbar(length=batches, label="sending batches", file=sys.stderr, show_pos=True)
            self._bar.__enter__()

    def batch_done(self, outcome: BatchOutcome) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


@main.command("send")
@click.option("--date", "edition_date", type=click.DateTime(["%Y-%m-%d"]), help="Edition date (default: today).")
@click.option("--dry-run", is_flag=True, help="Select and render, report counts; send and record nothing.")
@click.option("--to", "proof_to", metavar="ADDRESS", help="Send one proof copy to ADDRESS; record nothing.")
@click.option("--subscriber", metavar="EMAIL", help="With --to: the proof carries this subscriber's selection.")
@click.option("--resend-ambiguous", is_flag=True,
              help="Resend readers whose email may or may not have gone out (check the provider's log first).")
@click.option("--retry-failed", is_flag=True,
              help="Send failed readers again (an address the provider refused: once it has changed), and plan "
                   "again readers whose email could not be rendered.")
@pass_state
def send_command(state: State, edition_date, dry_run, proof_to, subscriber, resend_ambiguous, retry_failed) -> None:
    """Send the edition to every active subscriber who has not had it, whatever their send hour.

    Running it again sends only what is still owed. Exit status: 0 when every reader was
    sent (or skipped for a normal reason); 1 while readers of the edition are owed (failed
    or ambiguous deliveries, or a blocked edition); 2 for a usage or configuration error;
    3 when it went out partly: items were left out of some emails, or some readers' email
    could not be rendered (--retry-failed sends them once the cause is fixed).

    --resend-ambiguous and --retry-failed touch that edition's readers only (planning
    nobody new but the readers whose email could not be rendered); without --date they
    need exactly one edition to have such readers, and list them otherwise.
    """
    day = edition_date.date() if edition_date else None
    if subscriber and not proof_to:
        raise click.UsageError("--subscriber only goes with --to (a proof)")
    if proof_to and (dry_run or resend_ambiguous or retry_failed):
        raise click.UsageError("--to sends a single proof; it does not combine with --dry-run or resend options")
    if day is None and (resend_ambiguous or retry_failed) and not proof_to:
        day = _edition_to_resend(state, resend_ambiguous, retry_failed)
    day = day or state.today()
    provider = make_provider(state.settings)
    try:
        if proof_to:
            result = send_proof(state.runtime, provider, day, proof_to, subscriber_email=subscriber)
            click.echo(f"proof of the {day.isoformat()} edition sent to {proof_to} via {provider.name}"
                       + (f" (id {result.message_id})" if result.message_id else ""))
            return
        summary = _run(state, provider, day, dry_run, resend_ambiguous, retry_failed)
    except EditionWaits as waiting:  # approval required, or held or cancelled by an editor: not an error
        click.echo(str(waiting))
        return
    finally:
        provider.close()
    click.echo(format_summary(summary))
    for line in summary.problems():
        click.echo(f"warning: {line}", err=True)
    status = summary.exit_status
    if status == EXIT_OWED:
        click.echo(f"exit status {status}: readers of the edition are still owed (failed, ambiguous or blocked "
                   "deliveries, see above)", err=True)
    elif status == EXIT_PARTLY_SENT:
        click.echo(f"exit status {status}: partly sent: items were left out, or some readers' email could not be "
                   "rendered (see above)", err=True)
    if status:
        sys.exit(status)


def _edition_to_resend(state: State, resend_ambiguous: bool, retry_failed: bool) -> date | None:
    """The one edition with ambiguous (failed) readers, when no --date names one; None when
    there is none. Several: a usage error listing them, since a resend must name what it
    touches."""
    from ..deliver.ledger.in_flight import editions_with
    from ..deliver.plan.render_failures import editions_with_render_failures
    from ..models import DeliveryStatus

    wanted = ([DeliveryStatus.AMBIGUOUS] if resend_ambiguous else []) + ([DeliveryStatus.FAILED] if retry_failed else [])
    with state.runtime.sessions() as session:
        days = {day for status in wanted for day in editions_with(session, status)}
        if retry_failed:
            days |= set(editions_with_render_failures(session))
    days = sorted(days)
    if len(days) > 1:
        what = " or ".join(status for status in wanted) + (" (or render-failed)" if retry_failed else "")
        raise click.UsageError(
            f"{len(days)} editions have {what} readers: {', '.join(d.isoformat() for d in days)}; "
            "name one with --date YYYY-MM-DD")
    return days[0] if days else None


def _run(state: State, provider, day: date, dry_run: bool, resend_ambiguous: bool, retry_failed: bool):
    """Sends with a progress bar; SIGTERM stops between batches instead of mid-batch."""
    stop = {"requested": False}

    def on_sigterm(signum, frame):
        stop["requested"] = True

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (embedded use): no handler
        previous = None
    bar = _ProgressBar()
    try:
        return send_edition(
            state.runtime, provider, day, now=datetime.now(timezone.utc), dry_run=dry_run, progress=bar,
            resend_ambiguous=resend_ambiguous, retry_failed=retry_failed, should_stop=lambda: stop["requested"],
        )
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
