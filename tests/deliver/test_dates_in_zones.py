"""Dates in the reader's time zone without a render per zone.

Two readers of the same topics, in London and Kolkata, and a briefing published at 23:30
UTC on 26 Nov: one body is rendered (its dates are tokens), two batches are sent (one per
zone), London's email dates the briefing 26 Nov and Kolkata's 27 Nov, in the HTML and the
text, through every provider; no token is left in any message; the archive page shows
the dates the email showed.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from digest.deliver import send_edition
from digest.deliver.factory import make_provider
from digest.models import Batch, Briefing, Subscriber, Topic
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


def test_one_render_one_batch_per_zone_with_its_dates(runtime):
    seed(runtime)
    provider = RecordingProvider()

    summary = send_edition(runtime, provider, EDITION, now=NOW)

    assert summary.sent == 2 and summary.bodies_rendered == 1
    with runtime.session() as session:
        batches = session.execute(select(Batch.body_id, Batch.timezone)).all()
    assert len(batches) == 2 and len({body for body, _ in batches}) == 1
    assert {zone for _, zone in batches} == set(READERS.values())
    for batch in provider.sent:
        [recipient] = batch.recipients
        # What the provider is handed: dates filled; per-recipient tokens are the provider's.
        assert_dated_for(recipient.email, batch.body.subject, batch.body.html, batch.body.text, tokens_filled=False)

    # The archive ("view in browser") shows the dates that reader's email showed.
    with TestClient(create_app(runtime)) as client:
        for batch in provider.sent:
            [recipient] = batch.recipients
            page = client.get(recipient.tokens["archive_url"].split("digest.test", 1)[1])
            assert page.status_code == 200
            assert "%%" not in page.text
            assert DATE_LINE.findall(page.text) == [SHOWN[recipient.email]]


def test_readers_whose_dates_agree_share_a_batch(runtime):
    seed(runtime)
    with runtime.session() as session:
        lithium = session.scalars(select(Topic).where(Topic.slug == "lithium")).one()
        session.add(Subscriber(email="lisbon@example.com", timezone="Europe/Lisbon", send_hour=7, topics=[lithium]))
    provider = RecordingProvider()

    summary = send_edition(runtime, provider, EDITION, now=NOW)

    assert summary.sent == 3 and summary.bodies_rendered == 1
    by_zone = {b.body.html: sorted(r.email for r in b.recipients) for b in provider.sent}
    assert sorted(by_zone.values()) == [["kolkata@example.com"], ["lisbon@example.com", "london@example.com"]]


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
