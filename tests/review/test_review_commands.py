"""``digest draft``, ``approve``, ``send`` and ``status`` with ``[review] approval = "required"``:
real selection and rendering, the outbox provider, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
from datetime import datetime, timedelta, timezone
from email import policy
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select, update

from digest.cli import main
from digest.models import Briefing, Delivery, EditionApproval, EditionSnapshot, Topic
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings

REVIEW = '\n[review]\napproval = "required"\ndraft_lead = "2h"\nseed = ["desk@example.com"]\n'


def review_env(monkeypatch, tmp_path: Path, db_url: str, review: str = REVIEW) -> Path:
    config = tmp_path / "digest.toml"
    config.write_text(bundled_config_path().read_text().split("[[sources]]", 1)[0] + review)
    outbox = tmp_path / "outbox"
    for name, value in {"DIGEST_CONFIG": str(config), "DATABASE_URL": db_url, "DIGEST_OUTBOX": str(outbox),
                        "DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://digest.test",
                        "DIGEST_PROVIDER": "outbox", "USER": "tester"}.items():
        monkeypatch.setenv(name, value)
    return outbox


def seed_briefings() -> None:
    runtime = Runtime.open(load_settings())
    try:
        now = datetime.now(timezone.utc)
        with runtime.session() as session:
            by_slug = {t.slug: t for t in session.scalars(select(Topic))}
            for n, slug in enumerate(("lithium", "gold")):
                session.add(Briefing(
                    guid=f"review-{n}", url=f"https://ridgeline.example/b/{n}", title=f"{slug.title()} briefing",
                    body_html=f"<p>Body {n}.</p>", excerpt=f"Excerpt {n}.", author="A. Writer",
                    published_at=now - timedelta(hours=1 + n), attribution="Information found via a news release.",
                    author_disclosure="The author holds no position.", content_hash=f"h{n}", topics=[by_slug[slug]]))
    finally:
        runtime.close()


def query(statement):
    runtime = Runtime.open(load_settings())
    try:
        with runtime.session() as session:
            return session.execute(statement).all()
    finally:
        runtime.close()


def retitle(guid: str, title: str) -> None:
    runtime = Runtime.open(load_settings())
    try:
        with runtime.session() as session:
            session.execute(update(Briefing).where(Briefing.guid == guid).values(title=title))
    finally:
        runtime.close()


def messages(outbox: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(outbox.glob("*.eml"))]


def test_send_waits_for_approval_then_sends_what_was_approved(monkeypatch, tmp_path, db_url):
    outbox = review_env(monkeypatch, tmp_path, db_url)
    runner = CliRunner()
    assert runner.invoke(main, ["subscribers", "add", "ann@example.com", "--topics", "lithium"]).exit_code == 0
    assert runner.invoke(main, ["subscribers", "add", "bob@example.com", "--topics", "gold"]).exit_code == 0
    seed_briefings()
    day = datetime.now(timezone.utc).date().isoformat()

    result = runner.invoke(main, ["approve", "--date", day])
    assert result.exit_code == 2 and f"edition {day} is not drafted yet" in result.output

    result = runner.invoke(main, ["send", "--date", day])
    assert result.exit_code == 0, result.output
    assert f"edition {day} waits for approval (drafted now; snapshot v1" in result.output
    assert f"'digest approve --date {day}'" in result.output and "nothing was sent" in result.output
    assert query(select(func.count()).select_from(Delivery)) == [(0,)]
    proofs = messages(outbox)  # one proof per distinct body to the seed address
    assert sorted((m["To"], m["Subject"].startswith("[Proof] ")) for m in proofs) == [("desk@example.com", True)] * 2

    result = runner.invoke(main, ["send", "--date", day])  # again: drafted already, still waiting
    assert result.exit_code == 0 and "waits for approval (snapshot v1" in result.output
    assert len(messages(outbox)) == 2 and query(select(func.count()).select_from(EditionSnapshot)) == [(1,)]

    status = runner.invoke(main, ["status"])
    assert status.exit_code == 0 and f"! edition {day} waits for approval (snapshot v1" in status.output

    result = runner.invoke(main, ["approve", "--date", day, "--fingerprint", "0" * 64])
    assert result.exit_code == 2 and "changed since it was viewed" in result.output
    retitle("review-0", "Lithium briefing, rewritten after the draft")
    result = runner.invoke(main, ["approve", "--date", day])
    assert result.exit_code == 2 and "were edited since it was drafted" in result.output
    retitle("review-0", "Lithium briefing")
    ((fingerprint,),) = query(select(EditionSnapshot.fingerprint))
    result = runner.invoke(main, ["approve", "--date", day, "--fingerprint", fingerprint])
    assert result.exit_code == 0 and f"approved by tester" in result.output
    assert query(select(EditionApproval.approved_by, EditionApproval.fingerprint)) == [("tester", fingerprint)]

    result = runner.invoke(main, ["send", "--date", day])
    assert result.exit_code == 0, result.output
    sent = {m["To"]: m for m in messages(outbox) if not m["Subject"].startswith("[Proof]")}
    assert sorted(sent) == ["ann@example.com", "bob@example.com"]
    assert "Lithium briefing" in sent["ann@example.com"].get_body(("plain",)).get_content()
    assert "approved by tester" in runner.invoke(main, ["status"]).output


def test_an_edited_item_holds_an_approved_edition(monkeypatch, tmp_path, db_url):
    review_env(monkeypatch, tmp_path, db_url)
    runner = CliRunner()
    assert runner.invoke(main, ["subscribers", "add", "ann@example.com", "--topics", "lithium"]).exit_code == 0
    seed_briefings()
    day = datetime.now(timezone.utc).date().isoformat()
    assert runner.invoke(main, ["draft", "--date", day]).exit_code == 0
    assert runner.invoke(main, ["approve", "--date", day]).exit_code == 0
    retitle("review-0", "Lithium briefing, rewritten after the approval")
    result = runner.invoke(main, ["send", "--date", day])
    assert result.exit_code == 0 and "were edited since it was drafted" in result.output
    assert query(select(func.count()).select_from(Delivery)) == [(0,)]


def test_draft_prints_the_snapshot_and_its_bodies(monkeypatch, tmp_path, db_url):
    review_env(monkeypatch, tmp_path, db_url, review='\n[review]\nseed = ["desk@example.com"]\nseed_proofs = 1\n')
    runner = CliRunner()
    for address, topics in (("ann@example.com", "lithium"), ("bob@example.com", "gold"), ("cy@example.com", "gold")):
        assert runner.invoke(main, ["subscribers", "add", address, "--topics", topics]).exit_code == 0
    seed_briefings()
    result = runner.invoke(main, ["draft", "--date", "2026-12-07"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("edition 2026-12-07: snapshot v1 (") and lines[0].endswith(": 2 briefing(s), 0 video(s)")
    assert lines[1] == "  2 distinct bodies:"
    assert lines[2].split()[:2] == ["2", "reader(s)"] and "[gold]" in lines[2]  # most readers first
    assert lines[3].split()[:2] == ["1", "reader(s)"] and "[lithium]" in lines[3]
    assert lines[4] == "  proof [gold] to desk@example.com: sent"  # seed_proofs = 1: the largest body only
    again = runner.invoke(main, ["draft", "--date", "2026-12-07"])
    assert again.output.splitlines()[0].endswith("(already drafted)")


def test_review_settings_name_the_key_when_wrong(monkeypatch, tmp_path, db_url):
    review_env(monkeypatch, tmp_path, db_url, review='\n[review]\ndraft_lead = "two hours"\n')
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 2
    assert "review.draft_lead" in result.output and "a number and a unit" in result.output
