"""A body that fails to render for a reason cleaning cannot fix (a template error one
item, or one combination, triggers): only that item is left out, or only that body's
readers are skipped (``render-failed``), named, and sent by ``--retry-failed`` once
the cause is fixed. Everyone else gets theirs; every reader has a ledger row."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.deliver.edition import send_edition
from digest.deliver.summary import EXIT_OK, EXIT_PARTLY_SENT
from digest.models import Briefing, Delivery, RenderedBody, Source, Subscriber, Topic
from digest.paths import email_templates_dir
from digest.render import Renderer
from digest.runtime import Runtime
from digest.settings import load_settings

from fakes.edition_seed import ledger, outbox_recipients, seed_edition
from .conftest import RecordingProvider

READERS = 30  # seed_edition's topic sets: 18 lithium, 6 gold, 6 both
#: A template error only the item titled "BOOM ..." triggers (StrictUndefined), in the text
#: part's topic section (a part of its own, written once per section).
ITEM_FAULT = ("partials/topic_section.txt.j2", '{{ item.title|wrap }}',
              '{% if "BOOM" in item.title %}{{ no_such_value }}{% endif %}{{ item.title|wrap }}')
#: A template error only a body with two topic sections triggers: no item fails alone.
_SECTION = '{{ part("partials/topic_section.txt.j2", section) -}}'
BODY_FAULT = ("body.txt.j2", _SECTION, '{% if sections|length > 1 %}{{ no_two_sections }}{% endif %}' + _SECTION)


def _templates(tmp_path: Path, *faults: tuple[str, str, str]) -> Path:
    """A copy of the email templates with ``faults`` (template, text, replacement)
    written into the text part."""
    folder = tmp_path / "templates"
    shutil.copytree(email_templates_dir(), folder)
    for name, old, new in faults:
        template = folder / name
        source = template.read_text()
        assert old in source
        template.write_text(source.replace(old, new, 1))
    return folder


def _seed(settings) -> list[str]:
    emails = seed_edition(settings, READERS)
    runtime = Runtime.open(settings, migrate=False)
    try:
        with runtime.session() as session:
            gold = session.scalars(select(Topic).where(Topic.slug == "gold")).one()
            source = Source(key="https://wire.example/feed", name="Wire Feed", kind="rss")
            session.add(Briefing(
                guid="boom-1", url="https://wire.example/boom", title="BOOM goes gold", body_html="<p>Gold.</p>",
                excerpt="Gold.", author="Desk", published_at=datetime.now(timezone.utc) - timedelta(minutes=5),
                source=source, attribution="Found via a release.", author_disclosure="None.",
                content_hash=hashlib.sha256(b"boom").hexdigest(), topics=[gold],
            ))
    finally:
        runtime.close()
    return emails


def _now() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=1)


def _rows(runtime) -> dict[str, tuple[str, str | None, str | None, datetime | None]]:
    """email -> (status, skip reason, error, the reader's last digest)."""
    with runtime.session() as session:
        rows = session.execute(select(Subscriber.email, Delivery.status, Delivery.skip_reason, Delivery.error,
                                      Subscriber.last_digest_at)
                               .join(Delivery, Delivery.subscriber_id == Subscriber.id))
        return {email: (status, reason, error, last) for email, status, reason, error, last in rows}


def _topics(n: int) -> str:
    """seed_edition's topic set of its n-th address (0-based): lithium, lithium, lithium, gold, both."""
    return ("lithium", "lithium", "lithium", "gold", "both")[n % 5]


def test_only_the_item_that_breaks_the_template_is_left_out(runtime, tmp_path):
    emails = _seed(runtime.settings)
    renderer = Renderer(runtime.settings.config, _templates(tmp_path, ITEM_FAULT))
    provider = RecordingProvider()

    summary = send_edition(runtime, provider, _now().date(), now=_now(), renderer=renderer)

    assert sorted(provider.emails) == sorted(emails)
    assert {status for status, *_ in _rows(runtime).values()} == {"sent"}
    assert (summary.sent, summary.readers, summary.exit_status) == (READERS, READERS, EXIT_PARTLY_SENT)
    [item] = summary.render_problems.left_out.values()
    assert (item.kind, item.guid, item.source, item.title, item.readers) == ("briefing", "boom-1", "Wire Feed",
                                                                             "BOOM goes gold", 12)
    assert "no_such_value" in item.error
    [line] = summary.problems()
    assert "boom-1" in line and "Wire Feed" in line and "BOOM goes gold" in line and "12 reader(s)" in line
    with runtime.session() as session:
        bodies = [html for (html,) in session.execute(select(RenderedBody.html))]
    assert len(bodies) == 3 and not any("BOOM" in html for html in bodies)
    assert sum("Gold today" in html for html in bodies) == 2  # the gold readers' other items are there


def test_only_the_readers_of_a_body_that_still_fails_are_skipped_then_retry_sends_them(runtime, tmp_path):
    emails = _seed(runtime.settings)
    both = {e for n, e in enumerate(emails) if _topics(n) == "both"}
    broken = Renderer(runtime.settings.config, _templates(tmp_path, BODY_FAULT))
    provider = RecordingProvider()

    first = send_edition(runtime, provider, _now().date(), now=_now(), renderer=broken)

    assert sorted(provider.emails) == sorted(set(emails) - both)
    rows = _rows(runtime)
    assert len(rows) == READERS  # every reader has a row
    for email in emails:
        status, reason, error, last = rows[email]
        if email in both:
            assert (status, reason, last) == ("skipped", "render-failed", None)  # their last digest did not move
            assert "no_two_sections" in error
        else:
            assert status == "sent" and last is not None
    assert (first.sent, first.skipped["render-failed"], first.readers) == (24, 6, READERS)
    assert first.exit_status == EXIT_PARTLY_SENT and not first.render_problems.left_out
    assert any("6 reader(s) not sent" in line and "--retry-failed" in line for line in first.problems())

    # A run that fixes nothing still says readers are missing their email.
    again = send_edition(runtime, provider, _now().date(), now=_now())
    assert (again.sent, again.readers, again.exit_status) == (0, READERS, EXIT_PARTLY_SENT)
    assert (again.skipped["already-sent"], again.owed["render-failed"]) == (READERS, 6)
    assert any("6 reader(s) of this edition were not sent" in line for line in again.problems())

    # The cause fixed (the templates as shipped), --retry-failed sends them, once.
    retried = send_edition(runtime, provider, _now().date(), now=_now(), retry_failed=True)
    assert (retried.sent, retried.replanned, retried.readers, retried.exit_status) == (6, 6, READERS, EXIT_OK)
    assert sorted(provider.emails) == sorted(emails)
    assert {status for status, *_ in _rows(runtime).values()} == {"sent"}
    gold_and_lithium = [b for b in provider.sent if b.recipients[0].email in both]
    assert "Gold today" in gold_and_lithium[0].body.html and "Lithium today" in gold_and_lithium[0].body.html


def _figure(output: str, label: str) -> int:
    match = re.search(rf"^  {re.escape(label)} +(-?\d+)$", output, re.MULTILINE)
    assert match, f"{label!r} not in the summary:\n{output}"
    return int(match.group(1))


def test_digest_send_names_what_it_left_out_exits_partly_sent_and_retry_failed_sends_the_rest(
        db_url, cli_env, tmp_path, monkeypatch):
    from digest.render import renderer as renderer_module

    cli_env(db_url)
    settings = load_settings()
    emails = _seed(settings)
    faulty = _templates(tmp_path, ITEM_FAULT, BODY_FAULT)
    monkeypatch.setattr(renderer_module, "email_templates_dir", lambda: faulty)
    runner = CliRunner()
    today = datetime.now(timezone.utc).date().isoformat()

    first = runner.invoke(main, ["send", "--date", today])

    assert first.exit_code == EXIT_PARTLY_SENT == 3, first.output
    assert (_figure(first.output, "sent"), _figure(first.output, "skipped: render-failed")) == (24, 6)
    left_out = [line for line in first.output.splitlines() if "boom-1" in line]
    assert len(left_out) == 1 and "Wire Feed" in left_out[0] and "'BOOM goes gold'" in left_out[0]
    assert "no_such_value" in left_out[0] and "6 reader(s)" in left_out[0]  # the gold-only readers
    assert "6 reader(s) not sent" in first.output and "no_two_sections" in first.output
    assert "exit status 3: partly sent" in first.output

    monkeypatch.setattr(renderer_module, "email_templates_dir", email_templates_dir)  # the cause fixed
    retried = runner.invoke(main, ["send", "--date", today, "--retry-failed"])

    assert retried.exit_code == EXIT_OK, retried.output
    assert _figure(retried.output, "sent") == 6 and _figure(retried.output, "skipped: already-sent") == 24
    assert outbox_recipients(tmp_path / "outbox") == Counter({email.lower(): 1 for email in emails})
    assert {status for status, _batch in ledger(settings).values()} == {"sent"}


@pytest.fixture(autouse=True)
def _no_render_pool(monkeypatch):
    """Three bodies and a few re-renders: no worker processes to start."""
    from digest.deliver.plan import bodies

    monkeypatch.setattr(bodies, "INLINE_RENDERS", 10_000)
