"""Two ``digest send`` processes on one edition at once: each one's summary counts every
reader of the edition exactly once (sent + failed + ambiguous + still queued + each skip
reason = readers), and between them every reader is sent once.

The race is staged, not hoped for: the stand-in SendGrid holds the first run's first
request (delivered, unanswered) until the second run has finished; the second run then
sends every other batch, and sees the held one still queued."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime, timezone


from digest.settings import load_settings

from fakes.commands import digest_command, wait_for
from fakes.edition_seed import ledger, seed_edition
from fakes.fixtures import fake_sendgrid, sendgrid_env  # noqa: F401

READERS = 1500  # seed_edition: three batches, of 900 (lithium), 300 (gold) and 300 (both)
LABELS = ("sent", "failed", "ambiguous", "still queued", "skipped: suppressed", "skipped: no-new-items",
          "skipped: already-sent", "skipped: blocked", "skipped: render-failed")


def _figures(output: str) -> dict[str, int]:
    figures = {}
    for label in LABELS:
        match = re.search(rf"^  {re.escape(label)} +(-?\d+)$", output, re.MULTILINE)
        assert match, f"{label!r} not in the summary:\n{output}"
        figures[label] = int(match.group(1))
    return figures


def test_two_sends_at_once_each_count_every_reader_once(db_url, sendgrid_env, fake_sendgrid):
    env = {**os.environ, **sendgrid_env, "DATABASE_URL": db_url, "DIGEST_SEND_CONCURRENCY": "1"}
    settings = load_settings(env)
    emails = seed_edition(settings, READERS)
    release = fake_sendgrid.hold_next()
    command = [*digest_command(), "send", "--date", datetime.now(timezone.utc).date().isoformat()]

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: fake_sendgrid.requests or first.poll() is not None, "the first run's first request")
        assert first.poll() is None, first.communicate()[0]
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        # The race happened: the second run finished while the first one's request was held.
        assert first.poll() is None and len(fake_sendgrid.requests) == 3, second.stdout + second.stderr
    finally:
        release.set()
        first_output = first.communicate(timeout=120)[0]

    held = len(fake_sendgrid.requests[0]["personalizations"])  # whichever batch came first
    assert held in (900, 300)
    assert first.returncode == 0 and second.returncode == 0, first_output + second.stdout + second.stderr
    mine, theirs = _figures(first_output), _figures(second.stdout)
    assert mine == {**dict.fromkeys(LABELS, 0), "sent": held, "skipped: already-sent": READERS - held}
    assert theirs == {**dict.fromkeys(LABELS, 0), "sent": READERS - held, "still queued": held}
    assert sum(mine.values()) == sum(theirs.values()) == READERS
    assert "2 taken by another worker" in first_output
    assert sorted(fake_sendgrid.delivery_counts().values()) == [1] * READERS
    assert {status for status, _batch in ledger(settings).values()} == {"sent"} and len(ledger(settings)) == READERS
    assert set(fake_sendgrid.delivery_counts()) == {e.lower() for e in emails}
