"""``digest audit EMAIL --date D`` rebuilds the email a reader was sent byte for byte: the
same bytes as the outbox's ``.eml`` (also for readers sent in two runs seconds apart),
and through the SendGrid stand-in the HTML it recorded with that reader's
substitutions filled; readers not sent get one line and exit status 1. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select, update

from digest.cli import main
from digest.deliver import send_edition
from digest.deliver.providers import outbox as outbox_module
from digest.deliver.providers.outbox import OutboxProvider
from digest.deliver.send_moments import moment_for
from digest.models import Batch, Delivery, DraftBody, EditionApproval, EditionSnapshot, Subscriber
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings

from fakes.edition_seed import seed_edition
from fakes.fixtures import fake_sendgrid, fake_smtp, sendgrid_env  # noqa: F401
from review.test_review_commands import query, review_env, seed_briefings

SECRET = "test-secret-key-0123456789"
#: Zones on both sides of UTC, so the heading's date and the items' dates are each filled
#: in the reader's own zone.
ZONES = ["UTC", "Asia/Kolkata", "America/Los_Angeles", "Pacific/Auckland", "Europe/London"]


def _env(db_url: str, outbox: Path) -> dict[str, str]:
    return {"DIGEST_CONFIG": str(bundled_config_path()), "DATABASE_URL": db_url, "DIGEST_OUTBOX": str(outbox),
            "DIGEST_SECRET_KEY": SECRET, "DIGEST_BASE_URL": "https://digest.test", "DIGEST_PROVIDER": "outbox"}


def _audit(env: dict[str, str], email: str, day: str, fmt: str = "eml"):
    return CliRunner().invoke(main, ["audit", email, "--date", day, "--format", fmt, "--output", "-"], env=env)


def _seed_in_zones(settings, count: int) -> list[str]:
    emails = seed_edition(settings, count)
    runtime = Runtime.open(settings, migrate=False)
    try:
        with runtime.session() as session:
            for n in range(1, count + 1):
                session.execute(update(Subscriber).where(Subscriber.id == n).values(timezone=ZONES[n % len(ZONES)]))
    finally:
        runtime.close()
    return emails


def _files(outbox: Path) -> dict[str, bytes]:
    files = {}
    for path in outbox.glob("*.eml"):
        data = path.read_bytes()
        files[str(BytesParser(policy=policy.default).parsebytes(data)["To"]).lower()] = data
    return files


def test_audit_returns_the_bytes_the_outbox_wrote(db_url, tmp_path):
    outbox = tmp_path / "outbox"
    env = _env(db_url, outbox)
    settings = load_settings(env)
    emails = _seed_in_zones(settings, 10)
    day = datetime.now(timezone.utc).date()

    runtime = Runtime.open(settings)
    try:
        summary = send_edition(runtime, OutboxProvider(settings), day)
    finally:
        runtime.close()
    assert summary.sent == 10
    files = _files(outbox)
    assert sorted(files) == sorted(emails)

    for email in emails:
        result = _audit(env, email, day.isoformat())
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes == files[email], email
        assert "provider: outbox" in result.stderr and "approval: none recorded" in result.stderr
    # A reader whose address changed since: found by either address, the email as it was sent.
    runtime = Runtime.open(settings)
    try:
        with runtime.session() as session:
            session.execute(update(Subscriber).where(Subscriber.email == emails[1]).values(email="moved@example.com"))
    finally:
        runtime.close()
    for address in (emails[1], "moved@example.com"):
        moved = _audit(env, address, day.isoformat())
        assert moved.exit_code == 0 and moved.stdout_bytes == files[emails[1]], moved.stderr
    # An ambiguous reader's email is rebuilt with a warning; a failed one is one line.
    runtime = Runtime.open(settings)
    try:
        with runtime.session() as session:
            session.execute(update(Delivery).where(Delivery.subscriber_id == 3).values(status="ambiguous"))
            session.execute(update(Delivery).where(Delivery.subscriber_id == 4)
                            .values(status="failed", error="550 no such user"))
    finally:
        runtime.close()
    ambiguous = _audit(env, emails[2], day.isoformat())
    assert ambiguous.exit_code == 0 and ambiguous.stdout_bytes == files[emails[2]]
    assert "warning: this delivery is ambiguous: the provider may or may not have delivered it" in ambiguous.stderr
    failed = _audit(env, emails[3], day.isoformat())
    assert failed.exit_code == 1 and failed.stdout_bytes == b""
    assert failed.stderr.strip() == f"{emails[3]}: not sent the edition of {day}: failed: 550 no such user"
    # The Message-ID is the reader's own, and the same when audited again.
    ids = {str(BytesParser(policy=policy.default).parsebytes(data)["Message-ID"]) for data in files.values()}
    assert len(ids) == 10

    # Not sent that date: one line, exit status 1.
    unknown = _audit(env, "nobody@example.com", day.isoformat())
    assert unknown.exit_code == 1 and unknown.stdout_bytes == b""
    assert unknown.stderr.strip() == "nobody@example.com: no subscriber with this address (never subscribed, or " \
        "forgotten: 'digest subscribers forget' erases a reader's ledger too)"
    other_day = _audit(env, emails[0], "2020-01-01")
    assert other_day.exit_code == 1 and other_day.stderr.strip() == f"{emails[0]}: there is no edition of 2020-01-01"


def test_a_reader_skipped_or_not_in_the_edition_gets_one_line(db_url, tmp_path):
    outbox = tmp_path / "outbox"
    env = _env(db_url, outbox)
    settings = load_settings(env)
    emails = seed_edition(settings, 2, topic_sets=(("lithium",),))
    day = datetime.now(timezone.utc).date()
    runtime = Runtime.open(settings)
    try:
        with runtime.session() as session:  # the second reader has had every item already
            session.execute(update(Subscriber).where(Subscriber.id == 2)
                            .values(last_digest_at=datetime.now(timezone.utc)))
        send_edition(runtime, OutboxProvider(settings), day)
        with runtime.session() as session:  # a reader who subscribed after the edition
            session.add(Subscriber(id=100, email="late@example.com", status="active", timezone="UTC", send_hour=7,
                                   consent_source="test", consented_at=datetime.now(timezone.utc)))
    finally:
        runtime.close()

    skipped = _audit(env, emails[1], day.isoformat())
    assert skipped.exit_code == 1 and skipped.stdout_bytes == b""
    assert skipped.stderr.strip() == f"{emails[1]}: not sent the edition of {day}: skipped (no-new-items)"
    late = _audit(env, "late@example.com", day.isoformat())
    assert late.exit_code == 1 and late.stderr.strip() == f"late@example.com: not in the edition of {day}"


def test_readers_sent_in_two_runs_each_audit_to_their_own_file(db_url, tmp_path, monkeypatch):
    """The outbox fails after two files; --retry-failed sends the rest seconds later: two
    Date headers for one body, each reader's audit has their own."""
    outbox = tmp_path / "outbox"
    env = _env(db_url, outbox)
    settings = load_settings(env)
    emails = seed_edition(settings, 5, topic_sets=(("lithium",),))
    day = datetime.now(timezone.utc).date()
    real_write = outbox_module._write_atomically
    written = []

    def disk_full_after_two(path, data):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(path)
        real_write(path, data)

    runtime = Runtime.open(settings)
    try:
        monkeypatch.setattr(outbox_module, "_write_atomically", disk_full_after_two)
        first = send_edition(runtime, OutboxProvider(settings), day)
        assert (first.sent, first.failed) == (2, 3)
        monkeypatch.setattr(outbox_module, "_write_atomically", real_write)
        time.sleep(1.1)  # the second claim's Date header is a later second
        second = send_edition(runtime, OutboxProvider(settings), day, retry_failed=True)
        assert second.sent == 3
        with runtime.session() as session:  # the readers it did not reach went in a batch of their own
            assert [len(m.split()) for m in session.scalars(select(Batch.send_moments).order_by(Batch.id))] == [1, 1]
    finally:
        runtime.close()
    files = _files(outbox)
    dates = {str(BytesParser(policy=policy.default).parsebytes(data)["Date"]) for data in files.values()}
    assert len(files) == 5 and len(dates) == 2
    for email in emails:
        result = _audit(env, email, day.isoformat())
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes == files[email], email


def test_audit_of_a_sendgrid_reader_has_the_html_the_stand_in_recorded(sendgrid_env, fake_sendgrid, tmp_path):
    settings = load_settings(sendgrid_env)
    emails = _seed_in_zones(settings, 6)
    day = datetime.now(timezone.utc).date().isoformat()
    result = CliRunner().invoke(main, ["send", "--date", day], env=sendgrid_env)
    assert result.exit_code == 0, result.output

    for email in emails:
        [recorded] = fake_sendgrid.messages_for(email)
        audited = _audit(sendgrid_env, email, day, "html")
        assert audited.exit_code == 0, audited.stderr
        assert audited.stdout_bytes == recorded.html.encode()
        assert _audit(sendgrid_env, email, day, "txt").stdout_bytes == recorded.text.encode()
        message = BytesParser(policy=policy.default).parsebytes(_audit(sendgrid_env, email, day).stdout_bytes)
        assert str(message["Subject"]) == recorded.subject
        assert str(message["List-Unsubscribe"]) == recorded.headers["List-Unsubscribe"]
        assert f"provider: sendgrid, provider message id {recorded.message_id}" in audited.stderr
        [request_id] = {r["custom_args"]["batch_id"] for r in fake_sendgrid.requests
                        if any(p["to"][0]["email"] == email for p in r["personalizations"])}
        assert f"batch: {request_id} " in audited.stderr


def test_audit_of_an_smtp_reader_is_the_message_the_server_received(db_url, tmp_path, fake_smtp):
    """Over SMTP digest frames each message itself, as the outbox does: the audit is the
    DATA the server received, byte for byte but for SMTP's CRLF line endings."""
    env = {**_env(db_url, tmp_path / "outbox"), "DIGEST_PROVIDER": "smtp", "SMTP_URL": fake_smtp.url}
    emails = _seed_in_zones(load_settings(env), 5)
    day = datetime.now(timezone.utc).date().isoformat()
    result = CliRunner().invoke(main, ["send", "--date", day], env=env)
    assert result.exit_code == 0, result.output
    received = {r.rcpt_tos[0].lower(): r.raw for r in fake_smtp.received}
    assert sorted(received) == sorted(emails)
    for email in emails:
        audited = _audit(env, email, day)
        assert audited.exit_code == 0, audited.stderr
        assert audited.stdout_bytes.replace(b"\r\n", b"\n") == received[email].replace(b"\r\n", b"\n"), email
        assert "provider: smtp" in audited.stderr and "framed the MIME message itself" not in audited.stderr


def test_a_reader_gets_the_moment_of_the_claim_that_sent_them():
    """An ambiguous batch resent (resend_unaccounted) holds readers of two claims: those
    settled sent by a provider event after the first, the rest after the second."""
    stored = "2026-12-06T07:00:00.900000+00:00 2026-12-06T07:40:02.100000+00:00 2026-12-06T07:00:00.900000+00:00"
    at = lambda text: datetime.fromisoformat(text)  # noqa: E731
    assert moment_for(stored, at("2026-12-06T07:00:01.200000+00:00")) == at("2026-12-06T07:00:00+00:00")
    assert moment_for(stored, at("2026-12-06T07:40:02.100000+00:00")) == at("2026-12-06T07:40:02+00:00")
    assert moment_for(stored, at("2026-12-06T08:00:00+00:00")) == at("2026-12-06T07:40:02+00:00")
    assert moment_for(stored, None) == at("2026-12-06T07:40:02+00:00")
    assert moment_for(stored, at("2026-12-06T06:00:00+00:00")) == at("2026-12-06T07:00:00+00:00")
    assert moment_for(None, at("2026-12-06T07:00:01+00:00")) is None


def test_audit_of_an_approved_edition_names_the_approval_and_the_snapshot(monkeypatch, tmp_path, db_url):
    outbox = review_env(monkeypatch, tmp_path, db_url)
    runner = CliRunner()
    assert runner.invoke(main, ["subscribers", "add", "ann@example.com", "--topics", "lithium"]).exit_code == 0
    seed_briefings()
    day = datetime.now(timezone.utc).date().isoformat()
    assert runner.invoke(main, ["draft", "--date", day]).exit_code == 0
    assert runner.invoke(main, ["approve", "--date", day, "--by", "compliance"]).exit_code == 0
    assert runner.invoke(main, ["send", "--date", day]).exit_code == 0
    [(fingerprint, taken_at)] = query(select(EditionSnapshot.fingerprint, EditionSnapshot.taken_at))
    [(approved_at,)] = query(select(EditionApproval.approved_at))
    [sent] = [p for p in outbox.glob("*.eml") if "-delivery" in p.name and b"To: ann@example.com" in p.read_bytes()]

    result = runner.invoke(main, ["audit", "ann@example.com", "--date", day, "--output", str(tmp_path / "ann.eml")])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "ann.eml").read_bytes() == sent.read_bytes()
    lines = result.stderr.splitlines()
    assert f"snapshot: version 1, fingerprint {fingerprint}, taken {taken_at:%Y-%m-%d %H:%M:%S}Z by tester" in lines
    assert f"approval: by compliance at {approved_at:%Y-%m-%d %H:%M:%S}Z (fingerprint {fingerprint})" in lines

    # Redrafted and approved again after she was sent, for a reader who came since: the same
    # body is in version 2, but her email went out under version 1's approval.
    assert runner.invoke(main, ["subscribers", "add", "bob@example.com", "--topics", "lithium"]).exit_code == 0
    assert runner.invoke(main, ["redraft", "--date", day]).exit_code == 0
    assert query(select(func.count(func.distinct(DraftBody.body_id)))) == [(1,)]  # one body, in both versions
    assert runner.invoke(main, ["approve", "--date", day, "--by", "second-look"]).exit_code == 0
    assert query(select(func.count()).select_from(EditionSnapshot)) == [(2,)]
    again = runner.invoke(main, ["audit", "ann@example.com", "--date", day, "--output", "-"])
    assert again.exit_code == 0 and again.stdout_bytes == sent.read_bytes()
    assert f"approval: by compliance at {approved_at:%Y-%m-%d %H:%M:%S}Z (fingerprint {fingerprint})" in \
        again.stderr.splitlines()
