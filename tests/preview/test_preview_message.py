"""A preview is the exact message a subscriber would get, and it never writes anything."""

from __future__ import annotations

import email
import logging
from datetime import date, datetime, timezone
from email import policy

import pytest
from sqlalchemy import func, select

from digest import models
from digest.links import read_token
from digest.preview import PREVIEW_SECRET_KEY, PreviewError, PreviewRequest, build_preview

HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post")
EDITION = date(2026, 11, 27)


def preview(runtime, settings=None, **request):
    request.setdefault("edition_date", EDITION)
    with runtime.session() as session:
        return build_preview(session, settings or runtime.settings, PreviewRequest(**request))


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def unsubscribe_token(msg) -> str:
    # Long header values are folded onto a continuation line; unfolding leaves a space.
    return msg["List-Unsubscribe"].strip().strip("<>").rsplit("/", 1)[1]


def test_sample_reader_gets_every_topic_as_multipart_alternative(seeded):
    result = preview(seeded)
    msg = parse(result.as_eml())
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    for name in HEADERS:
        assert msg[name], f"missing {name}"
    assert msg["To"] == "reader@example.com"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].strip().startswith("<https://digest.test/unsubscribe/")
    assert read_token(seeded.settings.secret_key, "unsubscribe", unsubscribe_token(msg)).subscriber_id == 0
    text, html = (p.get_content() for p in msg.iter_parts())
    for part in (text, html, msg["Subject"]):
        assert "%%" not in part
    for title in ("Lithium news of the day", "Gold holds its ground"):
        assert title in text and title in html
    assert [s.slug for s in result.selection.sections] == ["lithium", "gold"]
    crlf = "\r\n"  # the wire format uses CRLF line ends; the files we write use LF
    assert result.as_html() == html.replace(crlf, "\n") and result.as_text() == text.replace(crlf, "\n")


def test_subscriber_preview_uses_their_address_topics_and_links(seeded):
    result = preview(seeded, subscriber="gold.bug@EXAMPLE.com")
    msg = parse(result.as_eml())
    with seeded.session() as session:
        subscriber = session.scalar(select(models.Subscriber))
    assert msg["To"] == subscriber.email
    assert read_token(seeded.settings.secret_key, "unsubscribe", unsubscribe_token(msg)).subscriber_id == subscriber.id
    assert [s.slug for s in result.selection.sections] == ["gold"]
    assert "Lithium news of the day" not in result.as_text()


def test_topics_override_and_date_picks_the_edition_moment(seeded):
    result = preview(seeded, topics=("lithium",), edition_date=date(2026, 11, 26))
    # 7:00 Toronto on 26 Nov is before anything was published: nothing new.
    assert result.selection.is_empty and result.would_skip
    result = preview(seeded, topics=("lithium",), edition_date=date(2026, 11, 28))
    assert [b.title for b in result.selection.sections[0].briefings] == ["Lithium news of the day"]
    assert [v.title for v in result.selection.videos] == ["Lithium explained"]
    assert parse(result.as_eml())["Date"].datetime == datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def test_unknown_topic_or_subscriber_is_named(seeded):
    with pytest.raises(PreviewError, match="copperish"):
        preview(seeded, topics=("copperish",))
    with pytest.raises(PreviewError, match="nobody@example.com"):
        preview(seeded, subscriber="nobody@example.com")


def test_without_a_secret_key_links_use_a_labelled_preview_key(seeded, caplog):
    settings = seeded.settings.with_overrides(secret_key=None)
    with caplog.at_level(logging.WARNING, logger="digest.preview"):
        msg = parse(preview(seeded, settings).as_eml())
    assert read_token(PREVIEW_SECRET_KEY, "unsubscribe", unsubscribe_token(msg)).subscriber_id == 0
    assert "preview" in PREVIEW_SECRET_KEY and "DIGEST_SECRET_KEY" in caplog.text


@pytest.mark.parametrize("fmt", ["eml", "html", "txt"])
def test_previews_never_touch_the_ledger(seeded, fmt):
    preview(seeded).render_as(fmt)
    preview(seeded, subscriber="gold.bug@example.com").render_as(fmt)
    with seeded.session() as session:
        for model in (models.Edition, models.Batch, models.Delivery, models.RenderedBody):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model.__tablename__
        assert session.scalar(select(models.Subscriber.last_digest_at)) is None


def test_a_preview_shows_dates_in_the_subscribers_zone(runtime):
    from select_seeding import Seeder

    with runtime.session() as session:
        seed = Seeder(session)
        seed.briefing(title="Late lithium news", topics=("lithium",),
                      published_at=datetime(2026, 11, 26, 23, 30, tzinfo=timezone.utc))
        seed.subscriber("kolkata@example.com", topics=("lithium",), timezone="Asia/Kolkata", send_hour=7)
        seed.subscriber("toronto@example.com", topics=("lithium",), timezone="America/Toronto", send_hour=7)
    for address, shown in (("kolkata@example.com", "27 Nov 2026"), ("toronto@example.com", "26 Nov 2026")):
        result = preview(runtime, subscriber=address)
        assert "Late lithium news" in result.as_text()
        for part in (result.as_text(), result.as_html()):
            assert f"{shown} · By A. Writer" in part.replace("&middot;", "·")
            assert "%%" not in part
