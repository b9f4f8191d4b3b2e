"""``digest send`` over SMTP to the loopback aiosmtpd server, some recipients refused:
only those are recorded as failed, and a second run sends nobody anything twice."""

from __future__ import annotations

from datetime import datetime, timezone

from click.testing import CliRunner

from digest.cli import main
from digest.settings import bundled_config_path, load_settings

from fakes.edition_seed import ledger, seed_edition
from fakes.fixtures import fake_smtp  # noqa: F401


def test_send_over_smtp_with_refused_recipients(fake_smtp, db_url, monkeypatch):
    env = {
        "DIGEST_CONFIG": str(bundled_config_path()),
        "DATABASE_URL": db_url,
        "DIGEST_PROVIDER": "smtp",
        "SMTP_URL": fake_smtp.url,
        "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
        "DIGEST_BASE_URL": "https://digest.test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    emails = seed_edition(settings, 30)
    refused = set(emails[3:30:10])  # three of them
    fake_smtp.refuse = refused
    today = datetime.now(timezone.utc).date().isoformat()

    first = CliRunner().invoke(main, ["send", "--date", today])

    assert first.exit_code == 1 and "failed" in first.output, first.output
    rows = ledger(settings)
    for address in emails:
        got = fake_smtp.messages_for(address)
        if address in refused:
            assert got == [] and rows[address][0] == "failed"
        else:
            assert len(got) == 1 and rows[address][0] == "sent"
            assert got[0]["List-Unsubscribe"].strip().startswith("<https://digest.test/unsubscribe/")
    assert len(fake_smtp.received) == len(emails) - len(refused)

    # Not resent on their own, and the edition still owes them: every run says so.
    second = CliRunner().invoke(main, ["send", "--date", today])
    assert second.exit_code == 1 and "3 recipient(s) of this edition were refused" in second.output, second.output
    assert len(fake_smtp.received) == len(emails) - len(refused)
