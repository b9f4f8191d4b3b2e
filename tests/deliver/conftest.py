"""Fakes and helpers for the ledger tests: a recording provider, a selector and a
renderer that count their calls, and a quick way to add subscribers."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from digest.content import BriefingItem, RenderedEmail, Selection, TopicSection
from digest.deliver.providers.base import OutgoingBatch, ProviderError, SendResult
from digest.models import Subscriber, SubscriberStatus, Topic

EDITION = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


class RecordingProvider:
    """Records every batch it is given; can be told to fail chosen batches."""

    name = "fake"

    def __init__(self, max_recipients: int = 1000):
        self.max_recipients = max_recipients
        self.sent: list[OutgoingBatch] = []
        self.fail_batches: dict[int, Exception] = {}  # batch number of the call (1-based) -> error
        self.reject: dict[str, str] = {}  # email -> reason
        self.unsure: dict[str, str] = {}  # email -> reason: may have gone out (e.g. SMTP cut during DATA)
        self.not_taken: dict[str, str] = {}  # email -> reason: not sent, retryable (e.g. SMTP 4xx to the end)
        self.calls = 0

    def send(self, batch: OutgoingBatch) -> SendResult:
        self.calls += 1
        error = self.fail_batches.get(self.calls)
        if error is not None:
            raise error
        self.sent.append(batch)
        rejected = {r.email: self.reject[r.email] for r in batch.recipients if r.email in self.reject}
        unsure = {r.email: self.unsure[r.email] for r in batch.recipients if r.email in self.unsure}
        unsent = {r.email: self.not_taken[r.email] for r in batch.recipients if r.email in self.not_taken}
        return SendResult(message_id=f"fake-{batch.batch_id}", rejected=rejected, ambiguous=unsure, unsent=unsent)

    def close(self) -> None:
        pass

    @property
    def emails(self) -> list[str]:
        return [r.email for b in self.sent for r in b.recipients]


class FakeSelector:
    """A selection made of the subscriber's topics; chosen addresses get nothing new."""

    def __init__(self, empty_for=(), blocked_for=()):
        self.empty_for = set(empty_for)
        self.blocked_for = set(blocked_for)
        self.calls = 0

    def for_subscriber(self, subscriber: Subscriber, edition_date: date) -> Selection:
        from digest.select import IncompleteItem, SelectionBlocked

        self.calls += 1
        if subscriber.email in self.blocked_for:
            raise SelectionBlocked([IncompleteItem("guid-1", "A briefing", ("author disclosure",))])
        topics = tuple(subscriber.topic_slugs)
        if subscriber.email in self.empty_for:
            return Selection(edition_date, topics, sections=())
        sections = tuple(
            TopicSection(slug, slug.title(), (
                BriefingItem(id=i, url=f"https://example.com/{slug}", title=f"News on {slug}", body_html="<p>x</p>",
                             excerpt="x", author="A", published_at=NOW, date_label="2 Mar 2026", topics=(slug,),
                             attribution="Source", author_disclosure="none", sponsor=None),
            ))
            for i, slug in enumerate(topics)
        )
        return Selection(edition_date, topics, sections=sections)


class CountingRenderer:
    def __init__(self):
        self.renders = 0

    def render(self, selection: Selection) -> RenderedEmail:
        self.renders += 1
        names = ", ".join(selection.topics)
        return RenderedEmail(
            subject=f"Your digest: {names}",
            preheader="today",
            html=f"<html><body><p>{names}</p><a href=\"%%unsubscribe_url%%\">Unsubscribe</a></body></html>",
            text=f"{names}\nUnsubscribe: %%unsubscribe_url%%\n",
            tokens=frozenset({"unsubscribe_url"}),
        )


def add_subscribers(runtime, count: int, *, topics=("gold",), status=SubscriberStatus.ACTIVE, prefix="reader") -> list[int]:
    with runtime.session() as session:
        by_slug = {t.slug: t for t in session.scalars(select(Topic))}
        start = len(session.scalars(select(Subscriber.id)).all())
        rows = [
            Subscriber(email=f"{prefix}{start + i}@example.com", status=status, timezone="UTC", send_hour=7,
                       topics=[by_slug[s] for s in topics])
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def postgresql_only(runtime, why: str):
    """``runtime`` when it is on PostgreSQL; on SQLite the test is skipped, saying ``why``."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip(why)
    return runtime


def provider_error(message="boom", **kw) -> ProviderError:
    return ProviderError(message, **kw)


@pytest.fixture
def provider():
    return RecordingProvider()


@pytest.fixture
def fakes():
    return FakeSelector(), CountingRenderer()


@pytest.fixture
def cli_env(monkeypatch, tmp_path, db_url):
    """Environment for running ``digest`` in-process, on SQLite and then PostgreSQL."""
    from digest.settings import bundled_config_path

    def _env(database_url: str | None = None, **extra: str) -> dict[str, str]:
        env = {
            "DIGEST_CONFIG": str(bundled_config_path()),
            "DATABASE_URL": database_url or db_url,
            "DIGEST_OUTBOX": str(tmp_path / "outbox"),
            "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
            "DIGEST_BASE_URL": "https://digest.test",
            "DIGEST_PROVIDER": "outbox",
        }
        env.update(extra)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    return _env
