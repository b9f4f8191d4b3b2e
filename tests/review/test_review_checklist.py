"""The email checklist on a drafted edition: the draft keeps each body's result, the review
pages (the web process's and ``digest preview --serve``'s) show it, and approving while a
check fails needs "approve despite" ticked, which the approval records.

The failing body comes from a wrong fixture, not wrong code: a paid piece whose feed did not
mark it sponsored, so its card reads "Sponsored" with no paid-promotion disclosure."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timezone
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from digest.models import DraftBody, EditionApproval
from digest.preview.server import create_app as preview_app
from digest.review.approval import ReviewError, approve
from digest.links import LinkMaker
from digest.message import build_message
from digest.render import Renderer
from digest.review.checklist import run_checklist
from digest.runtime import Runtime
from digest.web import create_app as web_app

from fakes.samples import sample_config, sample_edition

from .helpers import seed_two_drafts, seed_unflagged_sponsored_draft, with_review

DAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 5, 0, tzinfo=timezone.utc)
TOKEN = "editor-token-for-checklist-tests-41c"
NAMES = ["headers and structure", "no placeholder left", "subject tells the truth",
         "unsubscribe link and postal address", "disclosures next to each item",
         "sponsored pieces labelled wherever shown", "standing disclaimer in the footer", "no active content",
         "size budget", "email document (doctype, language, preheader, tables, alt text, dark mode)"]
GOLD_FAILS = ["sponsored card 'Gold promo' has no paid-promotion disclosure",
              "sponsored card 'Gold promo' is not labelled"]
GOLD_FAILURE = ("fails 1 of 10 checks: disclosures next to each item: "
                "sponsored card 'Gold promo' has no paid-promotion disclosure; "
                "sponsored card 'Gold promo' is not labelled")


def test_the_draft_keeps_each_bodys_checklist(runtime):
    runtime = with_review(runtime, approval="required")
    report = seed_unflagged_sponsored_draft(runtime, DAY, NOW)
    with runtime.session() as session:
        stored = session.execute(select(DraftBody.topics, DraftBody.readers, DraftBody.checklist)
                                 .order_by(DraftBody.id)).all()
    clean = [{"check": name, "problems": []} for name in NAMES]
    gold = [{"check": name, "problems": GOLD_FAILS if name == "disclosures next to each item" else []}
            for name in NAMES]
    assert sorted((topics, readers, checklist) for topics, readers, checklist in stored) == [
        ("gold", 2, gold), ("lithium", 1, clean)]
    lines = report.lines()  # what 'digest draft' prints: a failing body's checks under it
    assert [line.split("[")[1].split("]")[0] for line in lines if "reader(s)" in line] == ["gold", "lithium"]
    assert lines[3] == ("      checklist fails 1 of 10 checks: disclosures next to each item "
                        "(sponsored card 'Gold promo' has no paid-promotion disclosure; "
                        "sponsored card 'Gold promo' is not labelled)")
    assert not any("checklist" in line for line in lines[4:])


def test_approving_a_failing_edition_needs_the_confirmation_and_records_it(runtime):
    runtime = with_review(runtime, approval="required")
    seed_unflagged_sponsored_draft(runtime, DAY, NOW)
    with runtime.session() as session:
        with pytest.raises(ReviewError, match=r"fails 1 check\(s\) of the email checklist "
                                              r"\(\[gold\] disclosures next to each item\): confirm it \('approve despite' on the review page"):
            approve(session, DAY, by="desk", now=NOW, despite=False)
        assert session.scalars(select(EditionApproval)).all() == []
        approval = approve(session, DAY, by="desk", now=NOW, despite=True)
        assert approval.failed_checks == "[gold] disclosures next to each item"


def test_a_clean_edition_approves_without_the_confirmation(runtime):
    runtime = with_review(runtime, approval="required")
    seed_two_drafts(runtime, DAY, date(2026, 12, 8))
    with runtime.session() as session:
        assert [c for c, in session.execute(select(DraftBody.checklist))] == [
            [{"check": name, "problems": []} for name in NAMES]] * 4  # two bodies on each of two dates
        assert approve(session, DAY, by="desk", now=NOW, despite=False).failed_checks is None


def test_preview_review_page_shows_the_checklist_and_asks_to_confirm(runtime):
    runtime = with_review(runtime, approval="required")
    seed_unflagged_sponsored_draft(runtime, DAY, NOW)
    with TestClient(preview_app(runtime, watch=False), follow_redirects=False) as client:
        page = client.get("/review", params={"date": str(DAY)}).text
        cells = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r'<td class="checklist">(.*?)</td>', page)]
        assert [" ".join(c) for c in cells] == [
            "fails 1 of 10 checks: disclosures next to each item: sponsored card &#x27;Gold promo&#x27; has no "
            "paid-promotion disclosure; sponsored card &#x27;Gold promo&#x27; is not labelled",
            "passes all 10 checks"]
        assert "approve despite: [gold] disclosures next to each item</label>" in page
        form = {"date": str(DAY), "form_token": re.search(r'name="form_token" value="([^"]+)"', page).group(1),
                "fingerprint": re.search(r'name="fingerprint" value="([0-9a-f]{64})"', page).group(1)}
        refused = client.post("/approve", data=form)
        assert refused.status_code == 409 and "confirm it (&#x27;approve despite&#x27; on the review page" in refused.text
        assert client.post("/approve", data={**form, "despite": "yes"}).status_code == 303
        approved = client.get("/review", params={"date": str(DAY)}).text
        assert "(preview) approved snapshot v1" in approved
        assert ", despite: [gold] disclosures next to each item</li>" in approved


def test_web_review_page_shows_the_checklist(sqlite_url, make_settings):
    runtime = with_review(Runtime.open(make_settings(sqlite_url, DIGEST_EDITOR_TOKEN=TOKEN)), approval="required")
    seed_unflagged_sponsored_draft(runtime, DAY, NOW)
    try:
        with TestClient(web_app(runtime), base_url="https://testserver", follow_redirects=False) as client:
            page = client.get(f"/editor/review?date={DAY}", headers={"Authorization": f"Bearer {TOKEN}"}).text
    finally:
        runtime.close()
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split())
             for c in re.findall(r'<td class="checklist"[^>]*>(.*?)</td>', page, re.S)]
    assert cells == [GOLD_FAILURE.replace("'", "&#39;"), "passes all 10 checks"]
    assert re.search(r'<input type="checkbox" name="despite" value="yes" id="despite" required[^>]*>'
                     r"approve despite: \[gold\] disclosures next to each item</label>", page)


def test_a_message_the_checks_cannot_read_fails_every_check_without_raising():
    msg = EmailMessage()
    msg.set_content("only a text part")
    results = run_checklist(msg)
    assert [(r.name, r.passed, r.problems) for r in results] == [
        (name, False, ("the message needs a text/plain and a text/html part",)) for name in NAMES]


def test_a_broken_email_gets_each_failure_named_where_it_is():
    config, selection = sample_config(), sample_edition()
    rendered = Renderer(config).render(selection).dated("UTC", NOW)
    broken = rendered.html.replace("</body>", '<script>x()</script></body>').replace(
        'href="https://', 'href="javascript:', 1)
    msg = build_message(replace(rendered, html=broken), config=config, to="reader@example.com",
                        tokens=LinkMaker("https://digest.test", "secret").token_values(1, "reader@example.com", 1))
    failed = {r.name: r.problems for r in run_checklist(msg, selection, config) if not r.passed}
    # the logo's link is the email's first: it now goes nowhere safe
    assert failed == {"no active content": ("<script> in the HTML", "href='javascript:ridgeline.example' on <a>")}


def test_digest_approve_needs_despite_while_a_check_fails(runtime, db_url, monkeypatch):
    """The shell asks what the page asks: without ``--despite`` the approval is refused and
    nothing is recorded; with it the approval records the failed check."""
    from click.testing import CliRunner

    from digest.cli import main

    runtime = with_review(runtime, approval="required")
    seed_unflagged_sponsored_draft(runtime, DAY, NOW)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("USER", "desk")
    runner = CliRunner()
    refused = runner.invoke(main, ["approve", "--date", str(DAY)])
    assert refused.exit_code != 0
    assert "fails 1 check(s) of the email checklist ([gold] disclosures next to each item)" in refused.output
    assert "'digest approve --despite'" in refused.output
    with runtime.session() as session:
        assert session.scalars(select(EditionApproval)).all() == []
    given = runner.invoke(main, ["approve", "--date", str(DAY), "--despite"])
    assert given.exit_code == 0, given.output
    assert given.output.endswith(", despite: [gold] disclosures next to each item\n")
    with runtime.session() as session:
        assert [a.failed_checks for a in session.scalars(select(EditionApproval))] == [
            "[gold] disclosures next to each item"]
