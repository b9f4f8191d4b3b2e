"""``digest subscribers ...``: import, export, add, remove, list."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone

import click

from ..models import SubscriberStatus
from ..subscribers import (
    SubscriberData, SubscriberError, add_subscriber, iter_subscribers, normalise_email, remove_subscriber,
)
from ..subscribers.csv_io import export_csv, import_csv
from ..subscribers.forget import forget
from ..subscribers.personal_data import personal_data
from ..subscribers.registry import check_send_hour, check_timezone
from . import main
from .common import State, pass_state


@main.group("subscribers")
def subscribers_group() -> None:
    """Manage the subscriber list."""


@subscribers_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--consent", help="The basis of consent of the whole file (then the consent_source column may be "
              "left out; a line's own consent_source still wins).")
@pass_state
def import_command(state: State, path: str, consent: str | None) -> None:
    """Import or update subscribers from a CSV file (UTF-8).

    Header: email,topics,timezone,send_hour,consent_source,consented_at (topics as slugs
    separated by ';'); email and consent_source are required on every line (or
    --consent for the whole file). Each line added or updated gets a consent record. Bad lines
    are reported by line number and reason, the good ones import, and the exit status is
    2 when any line was refused. Unsubscribed, bounced or complained addresses are never
    resubscribed by an import.
    """
    with open(path, "rb") as stream, state.runtime.session() as session:
        try:
            report = import_csv(session, stream, state.settings.config, secret=state.settings.secret_key,
                                consent=consent, source=os.path.basename(path))
        except SubscriberError as exc:
            raise SubscriberError(f"{path}: {exc}") from None
    click.echo(f"{report.created} added, {report.updated} updated, {report.unchanged} unchanged, "
               f"{len(report.errors)} line(s) refused")
    if report.not_resubscribed:
        click.echo(f"{len(report.not_resubscribed)} address(es) not resubscribed (they unsubscribed, bounced, "
                   "complained or asked to be forgotten; use 'digest subscribers add --resubscribe' if they "
                   "asked again):")
        for email in report.not_resubscribed:
            click.echo(f"  {email}")
    for error in report.errors:
        click.echo(f"{path}: {error}", err=True)
    if report.errors:
        sys.exit(2)


@subscribers_group.command("export")
@click.argument("email", required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File to write (default: stdout).")
@click.option("--status", type=click.Choice(SubscriberStatus.ALL), help="Only subscribers with this status.")
@pass_state
def export_command(state: State, email: str | None, output: str | None, status: str | None) -> None:
    """Write the subscriber list as CSV (the import columns plus status); with EMAIL,
    everything kept about that reader as JSON (profile, topics, consent records,
    deliveries, provider events)."""
    if email is not None:
        if status is not None:
            raise click.UsageError("--status lists many subscribers; it does not go with EMAIL")
        _export_one(state, email, output)
        return
    with state.runtime.session() as session:
        if output:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                count = export_csv(session, stream, status)
            click.echo(f"{count} subscriber(s) written to {output}", err=True)
        else:
            export_csv(session, sys.stdout, status)


def _export_one(state: State, email: str, output: str | None) -> None:
    with state.runtime.session() as session:
        data = personal_data(session, email)  # an invalid address: SubscriberError, exit 2
    if data is None:
        raise SubscriberError(f"no subscriber {email!r}")
    document = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as stream:
            stream.write(document)
        click.echo(f"the data kept about {email} written to {output}", err=True)
    else:
        click.echo(document, nl=False)


def _split_topics(value: str | None) -> tuple[str, ...]:
    return tuple(sorted({t.strip().lower() for t in (value or "").replace(";", ",").split(",") if t.strip()}))


@subscribers_group.command("add")
@click.argument("emails", nargs=-1, required=True)
@click.option("--topics", help="Topic slugs, comma separated (default: every topic).")
@click.option("--timezone", "tz", help="IANA time zone (default: the config's schedule.default_timezone).")
@click.option("--send-hour", type=int, help="Local hour 0-23 (default: the config's schedule.default_send_hour).")
@click.option("--consent-source", help="Where consent was given (form, event, ...).")
@click.option("--resubscribe", is_flag=True, help="Reactivate an unsubscribed address (only if the person asked).")
@pass_state
def add_command(state: State, emails, topics, tz, send_hour, consent_source, resubscribe) -> None:
    """Add (or update) one or more subscribers."""
    config = state.settings.config
    slugs = _split_topics(topics)
    unknown = [s for s in slugs if s not in config.topic_slugs]
    if unknown:
        raise click.BadParameter(f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(config.topic_slugs)}",
                                 param_hint="--topics")
    now = datetime.now(timezone.utc)
    with state.runtime.session() as session:
        for raw in emails:
            data = SubscriberData(
                normalise_email(raw), slugs, check_timezone(tz or config.schedule.default_timezone),
                check_send_hour(config.schedule.default_send_hour if send_hour is None else send_hour),
                consent_source or "cli", now,
            )
            outcome = add_subscriber(session, data, resubscribe=resubscribe, now=now)
            click.echo(f"{data.email}: {outcome}")


@subscribers_group.command("remove")
@click.argument("emails", nargs=-1, required=True)
@pass_state
def remove_command(state: State, emails) -> None:
    """Unsubscribe addresses (the rows stay, so they remain suppressed)."""
    with state.runtime.session() as session:
        for raw in emails:
            previous = remove_subscriber(session, raw)
            note = "unsubscribed" if previous == SubscriberStatus.ACTIVE else f"already {previous}"
            click.echo(f"{normalise_email(raw)}: {note}")


@subscribers_group.command("forget")
@click.argument("emails", nargs=-1, required=True)
@pass_state
def forget_command(state: State, emails) -> None:
    """Erase everything kept about these readers (row, topics, consent records, deliveries,
    provider events), keeping only a keyed hash of each address so an import never adds
    it back; a new signup of theirs still works."""
    secret = state.settings.require_secret_key()
    with state.runtime.session() as session:
        for raw in emails:
            forget(session, secret, raw)
            click.echo(f"{normalise_email(raw)}: forgotten")


@subscribers_group.command("list")
@click.option("--status", type=click.Choice(SubscriberStatus.ALL), help="Only subscribers with this status.")
@pass_state
def list_command(state: State, status: str | None) -> None:
    """One line per subscriber: email, status, zone, hour, topics."""
    count = 0
    with state.runtime.session() as session:
        for s in iter_subscribers(session, status):
            topics = ",".join(s.topic_slugs) or "(all topics)"
            click.echo(f"{s.email}\t{s.status}\t{s.timezone}\t{s.send_hour:02d}:00\t{topics}")
            count += 1
    click.echo(f"{count} subscriber(s)", err=True)
