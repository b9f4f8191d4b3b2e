"""``digest send`` to 2,500 subscribers through the local SendGrid v3 server: each gets
exactly one email, each with their own unsubscribe URL in the HTML, text and headers."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from click.testing import CliRunner

from digest.cli import main
from digest.message import ONE_CLICK
from digest.settings import load_settings

from fakes.edition_seed import batch_statuses, ledger, seed_edition
from fakes.fixtures import fake_sendgrid, sendgrid_env  # noqa: F401

SUBSCRIBERS = 2500
UNSUBSCRIBE = re.compile(r"https://digest\.test/unsubscribe/[A-Za-z0-9._-]+")


def test_2500_subscribers_get_one_personal_email_each(sendgrid_env, fake_sendgrid):
    settings = load_settings(sendgrid_env)
    emails = seed_edition(settings, SUBSCRIBERS)
    today = datetime.now(timezone.utc).date().isoformat()

    result = CliRunner().invoke(main, ["send", "--date", today])

    assert result.exit_code == 0, result.output + str(result.exception)
    counts = fake_sendgrid.delivery_counts()
    assert len(counts) == SUBSCRIBERS and set(counts.values()) == {1}
    assert set(counts) == {e.lower() for e in emails}
    # At most 1,000 per request (the server enforces it too), one personalization each.
    assert sorted(len(r["personalizations"]) for r in fake_sendgrid.requests) == [500, 500, 500, 1000]
    assert sum(len(r["personalizations"]) for r in fake_sendgrid.requests) == SUBSCRIBERS

    seen_urls = set()
    for msg in fake_sendgrid.delivered:
        [url] = set(UNSUBSCRIBE.findall(msg.headers["List-Unsubscribe"]))
        assert msg.headers["List-Unsubscribe"] == f"<{url}>"
        assert msg.headers["List-Unsubscribe-Post"] == ONE_CLICK
        assert url in msg.html and url in msg.text
        assert set(UNSUBSCRIBE.findall(msg.html)) == {url} == set(UNSUBSCRIBE.findall(msg.text))
        assert "%%" not in msg.subject + msg.html + msg.text
        seen_urls.add(url)
    assert len(seen_urls) == SUBSCRIBERS  # everyone's link is their own

    assert {status for status, _ in ledger(settings).values()} == {"sent"}
    assert set(batch_statuses(settings)) == {"sent"}

    again = CliRunner().invoke(main, ["send", "--date", today])
    assert again.exit_code == 0, again.output
    assert len(fake_sendgrid.delivered) == SUBSCRIBERS  # nothing sent the second time
