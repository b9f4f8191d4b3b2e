"""End to end: content ingested from files, previewed as the .eml a reader gets, and
checked against every rule of the email checklist."""

from __future__ import annotations

import email
from datetime import date
from email import policy
from pathlib import Path

from sqlalchemy import select, update

from digest.ingest import ingest_sources, ingest_urls
from digest.models import Briefing
from digest.preview import PreviewRequest, build_preview
from render import checklist

HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post")
CHECKS = [getattr(checklist, name) for name in dir(checklist) if name.startswith("check_")]
HOSTILE_FEED = Path(__file__).resolve().parents[1] / "fixtures" / "feeds" / "hostile.xml"


def _parsed(result) -> email.message.EmailMessage:
    raw = result.as_eml()
    assert b"%%" not in raw
    return email.message_from_bytes(raw, policy=policy.default)


def test_sample_edition_eml(runtime):
    ingest_sources(runtime, runtime.settings.config.sources)
    with runtime.session() as session:
        # The sample content is dated 24-27 Nov 2026; 28 Nov's edition (07:00 Toronto) has it all.
        result = build_preview(session, runtime.settings, PreviewRequest(edition_date=date(2026, 11, 28)))
    msg = _parsed(result)

    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    for name in HEADERS:
        assert msg[name], f"missing {name}"
    assert result.selection.briefing_count > 0, "the sample content should fill the sample edition"
    assert len(CHECKS) >= 8
    for check in CHECKS:
        check(msg, result.selection, runtime.settings.config)


def test_hostile_feed_item_renders_without_active_content(runtime):
    """The ingestion tests' hostile item, stored, selected and rendered: nothing active
    reaches the email, and its harmless text does."""
    report = ingest_urls(runtime, [str(HOSTILE_FEED)])
    assert report.totals()["new"] == 1, report.format()
    with runtime.session() as session:
        # The feed has no disclosure paragraphs; an editor completes them so it is selected.
        session.execute(update(Briefing).values(attribution="Information for this briefing was found via a test.",
                                                author_disclosure="none"))
        guid = session.scalar(select(Briefing.guid))
        result = build_preview(session, runtime.settings, PreviewRequest(edition_date=date(2026, 11, 26)))
    assert guid == "hostile-1"
    # Markup in the title is dropped as text at ingestion.
    assert [b.title for s in result.selection.sections for b in s.briefings] == ["Hostile gold"]
    msg = _parsed(result)
    html = msg.get_body(("html",)).get_content()
    assert "Safe text stays." in html and "a fine link" in html
    assert "<script>alert" not in html and "evil.example" not in html
    for check in CHECKS:
        check(msg, result.selection, runtime.settings.config)


def test_every_sponsored_piece_of_a_crowded_topic_is_labelled_end_to_end(runtime):
    """The sample content with every briefing sponsored and filed under lithium as well:
    stored, selected, rendered and previewed as the .eml a lithium reader gets. Eleven are
    in the edition's window: four cards (the config's max_per_topic), seven related
    headlines; each carries its label and payer, amount and form, in HTML and text."""
    from sqlalchemy import insert

    from digest.models import Topic, briefing_topics

    ingest_sources(runtime, runtime.settings.config.sources)
    with runtime.session() as session:
        lithium = session.scalar(select(Topic.id).where(Topic.slug == "lithium"))
        ids = session.scalars(select(Briefing.id).order_by(Briefing.id)).all()
        tagged = set(session.execute(select(briefing_topics.c.briefing_id)
                                     .where(briefing_topics.c.topic_id == lithium)).scalars())
        session.execute(insert(briefing_topics), [{"briefing_id": i, "topic_id": lithium} for i in ids if i not in tagged])
        for n, briefing in enumerate(session.scalars(select(Briefing).order_by(Briefing.id))):
            briefing.is_sponsored = True
            briefing.sponsor_payer, briefing.sponsor_amount = f"Sponsor {n} Ltd.", f"USD {n + 1},000"
            briefing.sponsor_form, briefing.sponsor_disclosure = "cash", None
    assert len(ids) == 18
    with runtime.session() as session:
        result = build_preview(session, runtime.settings,
                               PreviewRequest(topics=("lithium",), edition_date=date(2026, 11, 28)))
    assert [len(s.briefings) for s in result.selection.sections] == [4]
    assert len(result.selection.related) == 7
    msg = _parsed(result)
    checklist.check_sponsored_labelled_wherever_shown(msg, result.selection, runtime.settings.config)
    text, html = checklist.parts(msg)
    assert html.count('class="sponsor-note"') == 7 and html.count('class="sponsor-box"') == 4
    assert text.count("[SPONSORED]") == 11
    for r in result.selection.related:
        assert f"Sponsored by {r.sponsor.payer} ({r.sponsor.amount}, cash)" in html
