"""``digest report``: its table and CSV, read from counters filled by real events."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.models import Delivery, Edition, Subscriber
from digest.report.counting import count_sent
from digest.web.sendgrid_events import record_events

from .test_counting import ev

DAY = date(2026, 12, 1)


@pytest.fixture
def cli_env(runtime, db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DIGEST_SECRET_KEY", "test-secret-key-0123456789")
    with runtime.session() as session:
        session.add(Edition(id=7, date=DAY, slot="daily"))
        session.add_all([Subscriber(id=n, email=f"r{n}@example.com") for n in range(1, 5)])
        session.flush()
        for n in range(1, 5):
            session.add(Delivery(edition_id=7, subscriber_id=n, batch_id=1, status="sent"))
        count_sent(session, 7, 4, DAY)  # as settling their batch does
    # 4 sent, 3 delivered, 1 hard bounce, 2 opened (1 machine open), 1 clicked twice, 1 complaint.
    record_events(runtime, [
        ev("d1", "delivered", 1, DAY), ev("d2", "delivered", 2, DAY), ev("d3", "delivered", 3, DAY),
        ev("b4", "bounce", 4, DAY, type="bounce"),
        ev("o1", "open", 1, DAY), ev("o2", "open", 2, DAY), ev("o3", "open", 3, DAY, sg_machine_open=True),
        ev("c1", "click", 1, DAY, url="https://ridgeline.example/b/gold"),
        ev("c2", "click", 1, DAY, url="https://ridgeline.example/b/gold"),
        ev("s2", "spamreport", 2, DAY),
    ])
    return runtime


def run(*args: str):
    return CliRunner().invoke(main, ["report", *args])


def test_csv_has_one_row_per_edition_and_a_total(cli_env):
    result = run("--date", DAY.isoformat(), "--format", "csv")
    assert result.exit_code == 0, result.output
    header = ("date,slot,edition_id,sent,delivered,deferred,bounced,blocked,dropped,opened,machine_opened,clicked,"
              "clicks,unsubscribed,complained,delivery_rate,bounce_rate,open_rate,click_rate,unsubscribe_rate,"
              "complaint_rate")
    assert result.output.splitlines() == [
        header,
        "2026-12-01,daily,7,4,3,0,1,0,0,2,1,1,2,0,1,0.750000,0.250000,0.666667,0.333333,0.000000,0.333333",
        "total,,,4,3,0,1,0,0,2,1,1,2,0,1,0.750000,0.250000,0.666667,0.333333,0.000000,0.333333",
    ]


def test_table_shows_figures_rates_and_top_items(cli_env):
    result = run("--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "report 2026-12-01 to 2026-12-01"
    assert lines[4].split() == ["2026-12-01", "daily", "4", "3", "0", "1", "0", "0", "2", "1", "1", "2", "0", "1"]
    assert lines[9].split() == ["2026-12-01", "daily", "75.00%", "25.00%", "66.67%", "33.33%", "0.00%", "33.33%"]
    assert "       2  (not an item)  https://ridgeline.example/b/gold" in lines


def test_with_tracking_off_the_report_says_so_and_shows_what_it_knows(cli_env, tmp_path, monkeypatch):
    from digest.settings import bundled_config_path
    config = tmp_path / "digest.toml"
    config.write_text(bundled_config_path().read_text() + "\n[tracking]\nopen = false\n")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    table = run("--date", DAY.isoformat())
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[2] == "open tracking is off ([tracking] open = false): opens of emails sent since are not counted"
    assert lines[6].split()[:6] == ["2026-12-01", "daily", "4", "3", "0", "1"]  # delivery figures still there
    assert json.loads(run("--date", DAY.isoformat(), "--format", "json").output)["untracked"] == ["open"]


def test_a_period_without_editions_and_a_wrong_pair_of_options(cli_env):
    result = run("--date", "2026-11-01")
    assert result.exit_code == 0 and result.output.splitlines()[-1] == "no editions in this period"
    both = run("--date", "2026-12-01", "--days", "3")
    assert both.exit_code == 2 and "give --date or --days, not both" in both.output
