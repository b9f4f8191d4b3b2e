"""``digest send`` end to end: real selection and rendering, the outbox provider."""

from __future__ import annotations

import email
import hashlib
import re
from datetime import datetime, timedelta, timezone
from email import policy

from click.testing import CliRunner
from sqlalchemy import func, select

from digest.cli import main
from digest.models import Briefing, Delivery, Topic
from digest.runtime import Runtime
from digest.settings import load_settings

def _figure(output: str, label: str) -> int:
    """A number from the summary table, e.g. ``_figure(out, "skipped: suppressed")``."""
    match = re.search(rf"^  {re.escape(label)} +(\d+)$", output, re.MULTILINE)
    assert match, f"{label!r} not in the summary:\n{output}"
    return int(match.group(1))


SUBSCRIBERS = ["ann@example.com", "bob@example.com", "cat@example.com"]


def _seed(topics_by_briefing):
    runtime = Runtime.open(load_settings())
    try:
        now = datetime.now(timezone.utc)
        with runtime.session() as session:
            by_slug = {t.slug: t for t in session.scalars(select(Topic))}
            for n, slugs in enumerate(topics_by_briefing):
                session.add(Briefing(
                    guid=f"e2e-{n}", url=f"https://ridgeline.example/b/{n}", title=f"Briefing number {n}",
                    body_html=f"<p>Body {n}.</p>", excerpt=f"Excerpt {n}.", author="A. Writer",
                    published_at=now - timedelta(hours=1 + n), attribution="Information found via a news release.",
                    author_disclosure="The author holds no position.", content_hash=hashlib.sha256(bytes([n])).hexdigest(),
                    topics=[by_slug[s] for s in slugs],
                ))
    finally:
        runtime.close()


def _ledger_rows() -> int:
    runtime = Runtime.open(load_settings())
    try:
        with runtime.session() as session:
            return session.scalar(select(func.count()).select_from(Delivery))
    finally:
        runtime.close()


def test_send_writes_one_eml_per_subscriber_and_nothing_the_second_time(cli_env, tmp_path):
    env = cli_env()
    runner = CliRunner()
    assert runner.invoke(main, ["subscribers", "add", *SUBSCRIBERS[:2], "--topics", "lithium"]).exit_code == 0
    assert runner.invoke(main, ["subscribers", "add", SUBSCRIBERS[2], "--topics", "gold"]).exit_code == 0
    assert runner.invoke(main, ["subscribers", "add", "gone@example.com"]).exit_code == 0
    assert runner.invoke(main, ["subscribers", "remove", "gone@example.com"]).exit_code == 0
    _seed([("lithium",), ("gold",), ("lithium", "gold")])
    today = datetime.now(timezone.utc).date().isoformat()
    outbox = tmp_path / "outbox"

    dry = runner.invoke(main, ["send", "--date", today, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert _figure(dry.output, "would send") == 3 and not outbox.exists() and _ledger_rows() == 0

    first = runner.invoke(main, ["send", "--date", today])
    assert first.exit_code == 0, first.output + str(first.exception)
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 3
    recipients = set()
    for path in files:
        assert path.name.startswith(today)
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        recipients.add(msg["To"])
        assert msg["List-Unsubscribe"].strip().startswith("<https://digest.test/unsubscribe/")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "%%" not in path.read_text()
    assert recipients == set(SUBSCRIBERS)
    assert _figure(first.output, "sent") == 3
    assert _figure(first.output, "skipped: suppressed") == 1
    assert _figure(first.output, "bodies rendered") == 2

    second = runner.invoke(main, ["send", "--date", today])
    assert second.exit_code == 0, second.output
    assert len(list(outbox.glob("*.eml"))) == 3
    assert _figure(second.output, "sent") == 0
    assert _figure(second.output, "skipped: already-sent") == 3

    rows = _ledger_rows()
    proof = runner.invoke(main, ["send", "--date", today, "--to", "Editor@Example.com", "--subscriber", "cat@example.com"])
    assert proof.exit_code == 0, proof.output + str(proof.exception)
    proofs = [p for p in outbox.glob("*.eml") if p not in files]
    assert len(proofs) == 1
    msg = email.message_from_bytes(proofs[0].read_bytes(), policy=policy.default)
    assert msg["To"] == "editor@example.com" and msg["Subject"].startswith("[Proof] ")
    assert _ledger_rows() == rows
    assert env["DIGEST_PROVIDER"] == "outbox"


def test_send_exits_non_zero_with_an_ambiguous_batch(cli_env, tmp_path, monkeypatch):
    from digest.deliver.providers import outbox as outbox_module
    from digest.deliver.providers.base import ProviderError

    cli_env()
    runner = CliRunner()
    assert runner.invoke(main, ["subscribers", "add", "ann@example.com", "--topics", "lithium"]).exit_code == 0
    _seed([("lithium",)])

    def lost(self, batch):
        raise ProviderError("answer lost", ambiguous=True)

    monkeypatch.setattr(outbox_module.OutboxProvider, "send", lost)
    result = runner.invoke(main, ["send"])
    assert result.exit_code == 1
    assert "ambiguous" in result.output and "--resend-ambiguous" in result.output
    monkeypatch.undo()
    cli_env()
    assert runner.invoke(main, ["send"]).exit_code == 1  # still reported, not resent
    assert not list((tmp_path / "outbox").glob("*.eml"))
    resent = runner.invoke(main, ["send", "--resend-ambiguous"])
    assert resent.exit_code == 0, resent.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_percent_signs_in_a_feed_are_content_not_tokens(cli_env, tmp_path):
    """A briefing that happens to contain "%%...%%" is sent like any other: its text is
    shown as written and it breaks neither the body's tokens nor the batch."""
    cli_env()
    runner = CliRunner()
    assert runner.invoke(main, ["subscribers", "add", "ann@example.com", "--topics", "lithium"]).exit_code == 0
    _seed([("lithium",)])
    runtime = Runtime.open(load_settings())
    with runtime.session() as session:
        session.execute(Briefing.__table__.update().values(
            body_html="<p>Margins up 100%% on %%foo%% and %%EMAIL%%, said %%%%.</p>"))
    runtime.close()

    result = runner.invoke(main, ["send"])
    assert result.exit_code == 0, result.output + str(result.exception)
    (path,) = (tmp_path / "outbox").glob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    html, text = msg.get_body(("html",)).get_content(), msg.get_body(("plain",)).get_content()
    for part in (html, text):
        assert "100%% on %%foo%% and %%EMAIL%%, said %%%%." in part
        assert "%%unsubscribe_url%%" not in part and "%%date:" not in part
    assert "https://digest.test/unsubscribe/" in html and "ann@example.com" in text
