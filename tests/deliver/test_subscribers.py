"""Subscriber import/export and the add/remove/list commands."""

from __future__ import annotations

import io

from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.models import Subscriber, SubscriberStatus
from digest.subscribers import remove_subscriber
from digest.subscribers.csv_io import export_csv, import_csv

GOOD_AND_BAD = """email,topics,timezone,send_hour,consent_source,consented_at
Ann@Example.COM,gold;silver,Europe/London,6,signup-form,2026-01-15
bob@example.com,,,,event,
not-an-address,gold,UTC,7,event,
carol@example.com,gold;astrology,UTC,7,event,
dave@example.com,gold,Mars/Olympus,7,event,
erin@example.com,gold,UTC,25,event,
frank@example.com,gold,UTC,7,event,last tuesday
ann@example.com,copper,UTC,7,event,
"""


def _import(runtime, text: str):
    with runtime.session() as session:
        return import_csv(session, io.BytesIO(text.encode()), runtime.settings.config)


def _subscribers(runtime) -> dict[str, Subscriber]:
    with runtime.session() as session:
        from sqlalchemy.orm import selectinload

        rows = session.scalars(select(Subscriber).options(selectinload(Subscriber.topics))).all()
        return {s.email: s for s in rows}


def test_import_reports_bad_rows_by_line_and_imports_the_good(runtime):
    report = _import(runtime, GOOD_AND_BAD)
    assert report.created == 2
    errors = {e.line: e.reason for e in report.errors}
    assert sorted(errors) == [4, 5, 6, 7, 8, 9]
    assert "invalid email" in errors[4]
    assert "astrology" in errors[5]
    assert "Mars/Olympus" in errors[6]
    assert "0-23" in errors[7]
    assert "ISO 8601" in errors[8]
    assert "same address as line 2" in errors[9]
    subs = _subscribers(runtime)
    assert set(subs) == {"ann@example.com", "bob@example.com"}
    ann, bob = subs["ann@example.com"], subs["bob@example.com"]
    assert (ann.topic_slugs, ann.timezone, ann.send_hour, ann.consent_source) == (["gold", "silver"], "Europe/London", 6, "signup-form")
    assert ann.consented_at.isoformat() == "2026-01-15T00:00:00+00:00"
    config = runtime.settings.config
    assert (bob.topic_slugs, bob.timezone, bob.send_hour) == ([], config.schedule.default_timezone, config.schedule.default_send_hour)


def test_reimport_updates_but_never_resubscribes(runtime):
    _import(runtime, "email,topics,timezone,send_hour,consent_source\nann@example.com,gold,UTC,6,form\nbob@example.com,gold,UTC,6,form\n")
    with runtime.session() as session:
        remove_subscriber(session, "BOB@example.com")
    report = _import(runtime, "email,topics,timezone,send_hour,consent_source\nann@example.com,copper,Asia/Kolkata,8,form\n"
                              "bob@example.com,copper,UTC,6,form\n")
    assert (report.created, report.updated, report.not_resubscribed) == (0, 1, ["bob@example.com"])
    subs = _subscribers(runtime)
    assert (subs["ann@example.com"].topic_slugs, subs["ann@example.com"].timezone) == (["copper"], "Asia/Kolkata")
    assert subs["bob@example.com"].status == SubscriberStatus.UNSUBSCRIBED
    assert subs["bob@example.com"].topic_slugs == ["gold"]
    again = _import(runtime, "email,topics,timezone,send_hour,consent_source\nann@example.com,copper,Asia/Kolkata,8,form\n")
    assert again.unchanged == 1


def test_export_round_trip_keeps_suppressions(runtime, make_settings, tmp_path):
    _import(runtime, GOOD_AND_BAD)
    with runtime.session() as session:
        remove_subscriber(session, "bob@example.com")
        out = io.StringIO()
        assert export_csv(session, out) == 2
    text = out.getvalue()
    assert text.splitlines()[0] == ("email,topics,timezone,send_hour,consent_source,consented_at,"
                                    "frequency,weekday,paused_until,status")
    assert "ann@example.com,gold;silver,Europe/London,6,signup-form,2026-01-15,daily,,,active" in text

    from digest.runtime import Runtime

    other = Runtime.open(make_settings(f"sqlite:///{tmp_path / 'other.db'}"))
    try:
        report = _import(other, text)
        assert report.created == 2 and not report.errors
        with other.session() as session:
            again = io.StringIO()
            export_csv(session, again)
        assert again.getvalue() == text  # bob stays unsubscribed in the new database
    finally:
        other.close()


def test_cli_add_remove_list_import_export(cli_env, tmp_path):
    cli_env()
    runner = CliRunner()
    result = runner.invoke(main, ["subscribers", "add", "Zed@Example.com", "amy@example.com", "--topics", "gold,lithium",
                                  "--timezone", "America/St_Johns", "--send-hour", "6"])
    assert result.exit_code == 0, result.output
    assert "zed@example.com: created" in result.output
    result = runner.invoke(main, ["subscribers", "add", "x@example.com", "--topics", "astrology"])
    assert result.exit_code != 0 and "astrology" in result.output

    result = runner.invoke(main, ["subscribers", "remove", "zed@example.com"])
    assert result.exit_code == 0 and "unsubscribed" in result.output
    result = runner.invoke(main, ["subscribers", "add", "zed@example.com"])
    assert result.exit_code == 2 and "--resubscribe" in result.output

    result = runner.invoke(main, ["subscribers", "list", "--status", "active"])
    assert result.exit_code == 0
    assert "amy@example.com\tactive\tAmerica/St_Johns\t06:00\tgold,lithium" in result.output
    assert "zed@" not in result.output

    csv_path = tmp_path / "in.csv"
    csv_path.write_text(GOOD_AND_BAD)
    result = runner.invoke(main, ["subscribers", "import", str(csv_path)])
    assert result.exit_code == 2
    assert "2 added" in result.output and f"{csv_path}: line 5: unknown topic(s) astrology" in result.output

    export_path = tmp_path / "out.csv"
    result = runner.invoke(main, ["subscribers", "export", "--output", str(export_path)])
    assert result.exit_code == 0
    assert "zed@example.com,gold;lithium,America/St_Johns,6,cli," in export_path.read_text()
    assert export_path.read_text().count("\n") == 5  # header + 4 subscribers
