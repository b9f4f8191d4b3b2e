"""Dates in the reader's time zone without a render per zone.

Two readers of the same topics, in London and Kolkata, and a briefing published at 23:30
UTC on 26 Nov: one body is rendered (its dates are tokens) and one batch is sent to both
(the date their zones disagree on is a per-recipient token); London's email dates the
briefing 26 Nov and Kolkata's 27 Nov, in the HTML and the text, through every provider;
no token is left in any message; the archive page shows the dates the email showed.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from digest.deliver import send_edition
from digest.deliver.providers.factory import make_provider
from digest.content import fill_tokens
from digest.models import Batch, Briefing, Delivery, Subscriber, Topic
from digest.runtime import Runtime
from digest.web import create_app

from fakes.fixtures import TEST_API_KEY, fake_sendgrid, fake_smtp  # noqa: F401

from .conftest import RecordingProvider

EDITION = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)
PUBLISHED = datetime(2026, 11, 26, 23, 30, tzinfo=timezone.utc)
READERS = {"london@example.com": "Europe/London", "kolkata@example.com": "Asia/Kolkata"}
SHOWN = {"london@example.com": "26 Nov 2026", "kolkata@example.com": "27 Nov 2026"}
#: The briefing's date line: "<date> · By A. Writer" (the HTML may keep the entity).
DATE_LINE = re.compile(r"(\d{1,2} [A-Z][a-z]{2} \d{4}) (?:·|&middot;|&#183;) By A\. Writer")


def seed(runtime: Runtime) -> None:
    with runtime.session() as session:
        lithium = session.scalars(select(Topic).where(Topic.slug == "lithium")).one()
        session.add(Briefing(
            guid="late-evening", url="https://ridgeline.example/b/late", title="Late lithium news",
            body_html="<p>Published late in the evening, UTC.</p>", excerpt="Late news.", author="A. Writer",
            published_at=PUBLISHED,
            attribution="Information for this briefing was found via a company news release.",
            author_disclosure="The author holds no position in the companies named.",
            content_hash=hashlib.sha256(b"late").hexdigest(), topics=[lithium],
        ))
        for email, zone in READERS.items():
            session.add(Subscriber(email=email, timezone=zone, send_hour=7, topics=[lithium]))


def assert_dated_for(email: str, subject: str, html: str, text: str, *, tokens_filled: bool = True) -> None:
    assert "%%date:" not in subject + html + text
    if tokens_filled:
        assert "%%" not in subject + html + text
    assert DATE_LINE.findall(text) == [SHOWN[email]]
    assert DATE_LINE.findall(html) == [SHOWN[email]]


def test_one_render_one_batch_each_reader_their_dates(runtime):
    seed(runtime)
    provider = RecordingProvider()

    summary = send_edition(runtime, provider, EDITION, now=NOW)

    assert summary.sent == 2 and summary.bodies_rendered == 1
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 1
        zones = dict(session.execute(select(Subscriber.email, Delivery.timezone)
                                     .join(Delivery, Delivery.subscriber_id == Subscriber.id)).all())
    assert zones == READERS  # each delivery keeps the zone its dates were filled in
    [batch] = provider.sent
    # What the provider is handed: the date the zones disagree on is a per-recipient token,
    # the value each reader's own label.
    assert "%%date:" not in batch.body.subject + batch.body.html + batch.body.text
    assert "%%date_1%%" in batch.body.html and "%%date_1%%" in batch.body.text
    assert "date_1" in batch.body.tokens
    for recipient in batch.recipients:
        assert recipient.tokens["date_1"] == SHOWN[recipient.email]
        html, text = fill_tokens(batch.body.html, recipient.tokens), fill_tokens(batch.body.text, recipient.tokens)
        assert_dated_for(recipient.email, batch.body.subject, html, text)

    # The archive ("view in browser") shows the dates that reader's email showed.
    with TestClient(create_app(runtime)) as client:
        for recipient in batch.recipients:
            page = client.get(recipient.tokens["archive_url"].split("digest.test", 1)[1])
            assert page.status_code == 200
            assert "%%" not in page.text
            assert DATE_LINE.findall(page.text) == [SHOWN[recipient.email]]


def test_the_archive_keeps_the_dates_sent_after_the_reader_moves(runtime):
    seed(runtime)
    provider = RecordingProvider()
    send_edition(runtime, provider, EDITION, now=NOW)
    with runtime.session() as session:
        kolkata = session.scalars(select(Subscriber).where(Subscriber.email == "kolkata@example.com")).one()
        kolkata.timezone = "Europe/London"
    [recipient] = [r for r in provider.sent[0].recipients if r.email == "kolkata@example.com"]
    with TestClient(create_app(runtime)) as client:
        page = client.get(recipient.tokens["archive_url"].split("digest.test", 1)[1])
    assert DATE_LINE.findall(page.text) == ["27 Nov 2026"]


def test_dates_every_reader_of_a_batch_sees_alike_are_written_into_the_body(runtime):
    seed(runtime)
    with runtime.session() as session:
        session.execute(update(Subscriber).where(Subscriber.email == "kolkata@example.com")
                        .values(timezone="Europe/Lisbon"))
    provider = RecordingProvider()

    summary = send_edition(runtime, provider, EDITION, now=NOW)

    assert summary.sent == 2
    [batch] = provider.sent
    assert "%%date" not in batch.body.html + batch.body.text  # London and Lisbon agree: no token
    assert all(set(r.tokens) == {"unsubscribe_url", "preferences_url", "archive_url", "email"}
               for r in batch.recipients)
    assert DATE_LINE.findall(batch.body.text) == ["26 Nov 2026"]


def _outbox_messages(settings) -> list[tuple[str, str, str, str]]:
    messages = []
    for path in sorted(Path(settings.outbox_dir).glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        messages.append((str(msg["To"]), str(msg["Subject"]), msg.get_body(("html",)).get_content(),
                         msg.get_body(("plain",)).get_content()))
    return messages


@pytest.mark.parametrize("provider_name", ["outbox", "sendgrid", "smtp"])
def test_every_provider_sends_each_reader_their_dates(provider_name, sqlite_url, make_settings, request):
    env = {"DIGEST_PROVIDER": provider_name}
    if provider_name == "sendgrid":
        fake = request.getfixturevalue("fake_sendgrid")
        env |= {"SENDGRID_API_KEY": TEST_API_KEY, "SENDGRID_API_HOST": fake.url}
    elif provider_name == "smtp":
        fake = request.getfixturevalue("fake_smtp")
        env |= {"SMTP_URL": fake.url}
    settings = make_settings(sqlite_url, **env)
    runtime = Runtime.open(settings)
    try:
        seed(runtime)
        provider = make_provider(settings)
        summary = send_edition(runtime, provider, EDITION, now=NOW)
        provider.close()
    finally:
        runtime.close()
    assert summary.sent == 2 and summary.bodies_rendered == 1

    if provider_name == "outbox":
        messages = _outbox_messages(settings)
    elif provider_name == "sendgrid":
        messages = [(m.to, m.subject, m.html, m.text) for m in fake.delivered]
    else:
        messages = [(str(m["To"]), str(m["Subject"]), m.get_body(("html",)).get_content(),
                     m.get_body(("plain",)).get_content())
                    for email in READERS for m in fake.messages_for(email)]
    assert sorted(to for to, *_ in messages) == sorted(READERS)
    for to, subject, html, text in messages:
        assert_dated_for(to, subject, html, text)


def test_a_proof_shows_the_chosen_subscribers_dates(runtime):
    from digest.deliver.proof import send_proof

    seed(runtime)
    for subscriber, shown in (("kolkata@example.com", "27 Nov 2026"), ("london@example.com", "26 Nov 2026")):
        provider = RecordingProvider()
        send_proof(runtime, provider, EDITION, "editor@example.com", subscriber_email=subscriber, now=NOW)
        [batch] = provider.sent
        assert "%%date:" not in batch.body.subject + batch.body.html + batch.body.text
        assert DATE_LINE.findall(batch.body.text) == DATE_LINE.findall(batch.body.html) == [shown]
