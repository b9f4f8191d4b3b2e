"""Frequency and pause through ``digest subscribers import`` and ``digest send``: the
CSV's columns are stored, and each day's send plans only the readers due that day
(weekly on their weekday, paused ones from their date), on SQLite and PostgreSQL. A
reader not due is in no figure of the summary; a pending one is not "suppressed"."""

from __future__ import annotations

import email
import io
import re
from datetime import date, timedelta
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings
from digest.subscribers.csv_io import export_csv

# Three weeks around London's spring-forward (Sunday 28 March 2027), in the future so
# the pause is still to come when imported.
DAYS = [date(2027, 3, 15) + timedelta(days=n) for n in range(21)]
CSV = """email,topics,timezone,send_hour,consent_source,frequency,weekday,paused_until,status
daily@example.com,gold,Europe/London,7,signup form,daily,,,active
weekly@example.com,gold,Europe/London,7,signup form,weekly,Monday,,active
paused@example.com,gold,Europe/London,7,signup form,daily,,2027-03-24,active
pending@example.com,gold,Europe/London,7,signup form,,,,pending
gone@example.com,gold,Europe/London,7,signup form,weekly,mon,,unsubscribed
"""


@pytest.fixture
def env(monkeypatch, tmp_path, db_url):
    config = tmp_path / "digest.toml"  # readers get an email even when nothing is new
    config.write_text(bundled_config_path().read_text().replace('nothing_new = "skip"', 'nothing_new = "note"'))
    values = {"DIGEST_CONFIG": str(config), "DATABASE_URL": db_url, "DIGEST_OUTBOX": str(tmp_path / "outbox"),
              "DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://digest.test",
              "DIGEST_PROVIDER": "outbox", "REDIS_URL": ""}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def figure(output: str, label: str) -> int:
    match = re.search(rf"^  {re.escape(label)} +(\d+)$", output, re.MULTILINE)
    assert match, f"{label!r} not in:\n{output}"
    return int(match.group(1))


def test_send_plans_only_the_readers_due_each_day(env, tmp_path):
    runner = CliRunner()
    path = tmp_path / "readers.csv"
    path.write_text(CSV)
    result = runner.invoke(main, ["subscribers", "import", str(path)])
    assert result.exit_code == 0, result.output

    expected = {
        "daily@example.com": DAYS,
        "weekly@example.com": [date(2027, 3, 15), date(2027, 3, 22), date(2027, 3, 29)],
        "paused@example.com": [d for d in DAYS if d >= date(2027, 3, 24)],
    }
    for day in DAYS:
        result = runner.invoke(main, ["send", "--date", day.isoformat()])
        assert result.exit_code == 0, result.output
        due = sum(day in days for days in expected.values())
        assert figure(result.output, "sent") == due, result.output
        assert figure(result.output, "skipped: suppressed") == 1, result.output  # gone@, not pending@
        for reason in ("no-new-items", "already-sent", "blocked", "render-failed", "in-flight"):
            assert figure(result.output, f"skipped: {reason}") == 0, result.output

    received: dict[str, list[date]] = {}
    for eml in sorted(Path(env["DIGEST_OUTBOX"]).glob("*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        received.setdefault(str(message["To"]), []).append(date.fromisoformat(str(message["X-Digest-Edition"])))
    assert {to: sorted(days) for to, days in received.items()} == expected


def test_csv_round_trip_keeps_frequency_weekday_and_pause(env, tmp_path):
    path = tmp_path / "readers.csv"
    path.write_text(CSV)
    assert CliRunner().invoke(main, ["subscribers", "import", str(path)]).exit_code == 0
    runtime = Runtime.open(load_settings())
    try:
        with runtime.session() as session:
            out = io.StringIO()
            export_csv(session, out)
    finally:
        runtime.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "email,topics,timezone,send_hour,consent_source,consented_at,frequency,weekday,paused_until,status"
    assert lines[1:] == [
        "daily@example.com,gold,Europe/London,7,signup form,,daily,,,active",
        "weekly@example.com,gold,Europe/London,7,signup form,,weekly,mon,,active",
        "paused@example.com,gold,Europe/London,7,signup form,,daily,,2027-03-24,active",
        "pending@example.com,gold,Europe/London,7,signup form,,daily,,,pending",
        "gone@example.com,gold,Europe/London,7,signup form,,weekly,mon,,unsubscribed",
    ]
    # The export imports again unchanged.
    again = tmp_path / "again.csv"
    again.write_text(out.getvalue())
    result = CliRunner().invoke(main, ["subscribers", "import", str(again)])
    assert result.exit_code == 0 and result.output.startswith("0 added, 0 updated, 3 unchanged"), result.output


BAD = [
    ("fortnightly@example.com,gold,UTC,7,form,fortnightly,,", "frequency must be daily or weekly, got 'fortnightly'"),
    ("noday@example.com,gold,UTC,7,form,weekly,,", "weekday is required when frequency is weekly (mon, tue, ... sun)"),
    ("badday@example.com,gold,UTC,7,form,weekly,someday,",
     "weekday must be a day of the week (mon, tue, ... sun), got 'someday'"),
    ("baddate@example.com,gold,UTC,7,form,daily,,31/03/2027", "paused_until must be a date as YYYY-MM-DD, got '31/03/2027'"),
]


def test_a_bad_frequency_weekday_or_date_costs_that_line_only(env, tmp_path):
    lines = ["email,topics,timezone,send_hour,consent_source,frequency,weekday,paused_until",
             "first@example.com,gold,UTC,7,form,weekly,fri,"]
    lines += [line for line, _ in BAD]
    lines.append("last@example.com,gold,UTC,7,form,daily,,2027-04-01")
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["subscribers", "import", str(path)])
    assert result.exit_code == 2
    assert result.stdout == "2 added, 0 updated, 0 unchanged, 4 line(s) refused\n"
    assert result.stderr.splitlines() == [f"{path}: line {n}: {reason}" for n, (_, reason) in enumerate(BAD, start=3)]
    listed = CliRunner().invoke(main, ["subscribers", "export"])
    assert "first@example.com,gold,UTC,7,form,,weekly,fri,,active" in listed.output
    assert "last@example.com,gold,UTC,7,form,,daily,,2027-04-01,active" in listed.output


def test_a_pause_that_is_over_imports_as_unchanged(env, tmp_path):
    """The export of a reader whose pause has ended still names its date: importing it
    again changes nothing (no update, no consent record)."""
    from sqlalchemy import update

    from digest.models import ConsentRecord, Subscriber

    path = tmp_path / "readers.csv"
    path.write_text(CSV)
    assert CliRunner().invoke(main, ["subscribers", "import", str(path)]).exit_code == 0
    runtime = Runtime.open(load_settings())
    try:
        with runtime.session() as session:  # time passes: the pause is over
            session.execute(update(Subscriber).where(Subscriber.email == "paused@example.com")
                            .values(paused_until=date(2026, 1, 5)))
        with runtime.session() as session:
            out = io.StringIO()
            export_csv(session, out)
            records = session.query(ConsentRecord).count()
        assert "paused@example.com,gold,Europe/London,7,signup form,,daily,,2026-01-05,active" in out.getvalue()
        again = tmp_path / "again.csv"
        again.write_text(out.getvalue())
        result = CliRunner().invoke(main, ["subscribers", "import", str(again)])
        assert result.output.startswith("0 added, 0 updated, 3 unchanged"), result.output
        with runtime.session() as session:
            assert session.query(ConsentRecord).count() == records
    finally:
        runtime.close()
