"""``digest subscribers import``: every kind of bad line costs that line only.

Each bad line sits among 1,000 good ones; the good ones are all imported, each bad one is
reported with its line number and reason (worked out here by hand), and the exit status
is 2 (input errors, as the README says).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select

from digest.cli import main
from digest.models import Subscriber
from digest.settings import bundled_config_path
from digest.subscribers.csv_lines import LineError, split_line

HEADER = b"email,topics,timezone,send_hour,consent_source,consented_at\n"
GOOD = 1000

#: (bad line, the reason reported for it), in the order they are placed in the file.
BAD_LINES = [
    (b"bad\xff@example.com,gold,UTC,7,form,\n", "not valid UTF-8 (byte 0xff at byte 4 of the line)"),
    (b"nul@example.com,gold,UTC,7,fo\x00rm,\n", "contains a NUL byte (at character 30)"),
    (b"few@example.com,gold,UTC,7\n", "too few cells: 4 for the header's 6 columns (no consent_source, consented_at)"),
    (b"many@example.com,gold,UTC,7,form,2026-01-01,extra\n", "too many cells: 7 for the header's 6 columns"),
    (b"noconsent@example.com,gold,UTC,7,,2026-01-01\n",
     "consent_source is empty (say where this reader gave consent, e.g. 'signup form')"),
    (b'quote@example.com,"gold,UTC,7,form,\n', "not valid CSV: a quoted cell is not closed"),
    (b"ctrl@example.com,gold,UTC,7,fo\x01rm,\n", "contains the control character or noncharacter U+0001 (at character 31)"),
    (b"long@example.com,gold,UTC,7," + b"x" * 301 + b",\n", "consent_source is longer than 300 characters"),
    (b"reader0007@example.com,copper,UTC,9,form,\n", "same address as line 8"),
]


def good_line(n: int) -> bytes:
    topics = ("gold", "silver;copper", "lithium")[n % 3]
    return f"reader{n:04d}@example.com,{topics},Europe/London,{n % 24},signup form,2026-01-{n % 28 + 1:02d}\n".encode()


def build_file() -> tuple[bytes, dict[int, str]]:
    """The header, 1,000 good lines and one bad line after every 100th good one."""
    lines, expected = [HEADER], {}
    bad = iter(BAD_LINES)
    for n in range(1, GOOD + 1):
        lines.append(good_line(n))
        if n % 100 == 0 and (item := next(bad, None)):
            lines.append(item[0])
            expected[len(lines)] = item[1]
    assert len(expected) == len(BAD_LINES)
    return b"".join(lines), expected


def test_bad_line_numbers_are_worked_out_by_hand():
    _, expected = build_file()
    # good line n is file line n + 1 plus one per bad line before it: the first bad line follows
    # good line 100 (file line 101), the second good line 200 (file line 202), ...
    assert sorted(expected) == [102, 203, 304, 405, 506, 607, 708, 809, 910]


def run_import(db_url: str, path) -> Result:
    env = {"DATABASE_URL": db_url, "DIGEST_CONFIG": str(bundled_config_path()),
           "DIGEST_SECRET_KEY": "test-secret-key-0123456789"}
    return CliRunner().invoke(main, ["subscribers", "import", str(path)], env=env)


def test_each_bad_line_among_1000_good_ones(db_url, tmp_path):
    data, expected = build_file()
    path = tmp_path / "readers.csv"
    path.write_bytes(data)
    result = run_import(db_url, path)
    assert result.exit_code == 2, result.output
    assert result.stdout == "1000 added, 0 updated, 0 unchanged, 9 line(s) refused\n"
    assert result.stderr.splitlines() == [f"{path}: line {n}: {reason}" for n, reason in sorted(expected.items())]

    engine = create_engine(db_url)
    with engine.connect() as conn:
        emails = set(conn.scalars(select(Subscriber.email)))
        reader7 = conn.execute(select(Subscriber.send_hour, Subscriber.consent_source)
                               .where(Subscriber.email == "reader0007@example.com")).one()
    engine.dispose()
    assert emails == {f"reader{n:04d}@example.com" for n in range(1, GOOD + 1)}
    assert tuple(reader7) == (7, "signup form")  # the repeated address did not overwrite line 8


def test_a_header_without_consent_imports_nothing(db_url, tmp_path):
    path = tmp_path / "no-consent.csv"
    path.write_bytes(b"email,topics\nann@example.com,gold\n")
    result = run_import(db_url, path)
    assert result.exit_code == 2
    assert result.stderr == (f"error: {path}: the CSV header must name the columns "
                             "email,topics,timezone,send_hour,consent_source,consented_at; "
                             "consent_source missing from email,topics\n")
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Subscriber)) == 0
    engine.dispose()


@pytest.mark.parametrize("data, reason", [
    (b"", "the file is empty; its first line must name the columns "
          "email,topics,timezone,send_hour,consent_source,consented_at"),
    (b"email,consent_source,notes\nann@example.com,form,hi\n",
     "unknown CSV column(s) notes; expected email,topics,timezone,send_hour,consent_source,consented_at "
     "(and, optionally, frequency,weekday,paused_until,status)"),
    (b"email,consent_source,weekday\nann@example.com,form,mon\n",
     "the CSV column(s) weekday need the frequency column beside them"),
    (b"email,consent_source,email\nann@example.com,form,bob@example.com\n", "CSV column(s) named twice: email"),
    (b"email,consent_source\xff\nann@example.com,form\n",
     "line 1 (the header): not valid UTF-8 (byte 0xff at byte 21 of the line)"),
])
def test_a_header_that_cannot_be_used_stops_the_import(db_url, tmp_path, data, reason):
    path = tmp_path / "header.csv"
    path.write_bytes(data)
    result = run_import(db_url, path)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: {path}: {reason}\n")


def test_a_byte_order_mark_and_crlf_endings_are_read(db_url, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfemail,consent_source\r\nann@example.com,fair\r\n\r\nbob@example.com,fair\r\n")
    result = run_import(db_url, path)
    assert (result.exit_code, result.stdout) == (0, "2 added, 0 updated, 0 unchanged, 0 line(s) refused\n")


@pytest.mark.parametrize("raw, cells", [
    (b'a@example.com,"gold;copper",UTC', ("a@example.com", "gold;copper", "UTC")),
    (b" a@example.com , gold ,", ("a@example.com", "gold", "")),
    ("Zoë@example.com,caf\u0065\u0301".encode(), ("Zoë@example.com", "caf\u00e9")),  # NFC
])
def test_good_lines_split_into_cells(raw, cells):
    assert split_line(raw) == cells


def test_a_noncharacter_is_refused():
    with pytest.raises(LineError, match=r"U\+FFFE \(at character 3\)"):
        split_line("ab\ufffe,c".encode())


def test_the_installed_command_exits_2_without_a_traceback(db_url, tmp_path):
    """The real process: one bad line among good ones, stderr one line per refused line."""
    path = tmp_path / "readers.csv"
    path.write_bytes(HEADER + good_line(1) + BAD_LINES[0][0] + good_line(2))
    env = {**os.environ, "DATABASE_URL": db_url, "DIGEST_CONFIG": str(bundled_config_path()),
           "DIGEST_SECRET_KEY": "test-secret-key-0123456789"}
    result = subprocess.run([sys.executable, "-c", "from digest.cli import main; main()", "subscribers", "import",
                             str(path)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout == "2 added, 0 updated, 0 unchanged, 1 line(s) refused\n"
    assert result.stderr == f"{path}: line 3: {BAD_LINES[0][1]}\n"
