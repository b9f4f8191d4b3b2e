"""An old database (written before ingest cleaned text) with every kind of character no
email can carry, in an edition of 1,000 readers: cleaned where stored rows enter
selection, so every reader is sent; and, with that cleaning off, the items that break a
body are left out of it and named, and every reader is still sent."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from digest.deliver.edition import send_edition
from digest.deliver.summary import EXIT_OK, EXIT_PARTLY_SENT
from digest.models import Briefing, Delivery, RenderedBody, Source, Topic, Video

from fakes.edition_seed import seed_edition
from .conftest import RecordingProvider

READERS = 1000  # seed_edition's topic sets: 600 lithium, 200 gold, 200 both
#: name -> character; the first group MJML's parser refuses (a body holding one fails).
BREAKING = {"soh": "\x01", "vt": "\x0b", "us": "\x1f", "fffe": "\ufffe", "ffff": "\uffff"}
CARRIED = {"del": "\x7f", "nel": "\x85", "fdd0": "\ufdd0", "plane16": "\U0010ffff"}  # no error, still unwanted
NUL = {"nul": "\x00"}  # PostgreSQL refuses NUL in text: only an old SQLite database can hold it


def _kinds(runtime) -> dict[str, str]:
    sqlite = runtime.engine.dialect.name == "sqlite"
    return {**BREAKING, **(NUL if sqlite else {}), **CARRIED}


def _seed_bad_items(runtime, kinds: dict[str, str]) -> dict[str, str]:
    """One briefing per kind (lithium and gold in turn; the character in its title, body,
    excerpt and attribution) and one lithium video with U+FFFF in its title, written
    straight into the database as an old release would have. Returns guid -> topic."""
    now = datetime.now(timezone.utc)
    topics = {}
    with runtime.session() as session:
        by_slug = {t.slug: t for t in session.scalars(select(Topic))}
        source = Source(key="https://old.example/feed", name="Old Feed", kind="rss")
        session.add(source)
        for n, (name, char) in enumerate(kinds.items()):
            slug = ("lithium", "gold")[n % 2]
            topics[f"bad-{name}"] = slug
            session.add(Briefing(
                guid=f"bad-{name}", url=f"https://old.example/{name}", title=f"Bad {name} {char}title",
                body_html=f"<p>Body {char} of {name}.</p>", excerpt=f"Excerpt {char}.", author="Old Writer",
                published_at=now - timedelta(minutes=10 + n), source=source,
                attribution=f"Found via {char}a release.", author_disclosure="The author holds no position.",
                content_hash=hashlib.sha256(name.encode()).hexdigest(), topics=[by_slug[slug]],
            ))
        session.add(Video(
            guid="bad-video", url="https://old.example/v", title="Bad video \uffff title", description="Clip.",
            thumbnail_url="https://old.example/v.jpg", published_at=now - timedelta(minutes=5), source=source,
            content_hash="v" * 64, topics=[by_slug["lithium"]],
        ))
    topics["bad-video"] = "lithium"
    return topics


def _send(runtime):
    emails = seed_edition(runtime.settings, READERS)
    provider = RecordingProvider()
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    return emails, provider, now


def _bodies(runtime) -> list[str]:
    with runtime.session() as session:
        return [html + text for html, text in session.execute(select(RenderedBody.html, RenderedBody.text))]


def _ledger(runtime) -> list[tuple[str, str | None]]:
    with runtime.session() as session:
        return [tuple(row) for row in session.execute(select(Delivery.status, Delivery.skip_reason))]


def test_bad_characters_in_stored_rows_are_cleaned_and_everyone_is_sent(runtime):
    emails, provider, now = _send(runtime)
    kinds = _kinds(runtime)
    _seed_bad_items(runtime, kinds)

    summary = send_edition(runtime, provider, now.date(), now=now)

    assert sorted(provider.emails) == sorted(emails)  # every reader, once
    assert _ledger(runtime) == [("sent", None)] * READERS
    assert (summary.sent, summary.readers, summary.exit_status) == (READERS, READERS, EXIT_OK)
    assert not summary.render_problems.left_out and not summary.render_problems.failed
    # Each item is named as cleaned (its row is still dirty: an operator may want to know).
    cleaned = {(c.kind, c.guid, c.source, c.title) for c in summary.render_problems.cleaned.values()}
    assert cleaned == {("briefing", f"bad-{name}", "Old Feed", f"Bad {name} title") for name in kinds} | {
        ("video", "bad-video", "Old Feed", "Bad video  title")}
    lines = summary.problems()
    assert len(lines) == len(kinds) + 1 and all("cleaned for this edition" in line for line in lines)
    bodies = _bodies(runtime)
    assert len(bodies) == 3
    for char in [*kinds.values(), "\uffff"]:
        assert not any(char in body for body in bodies), repr(char)
    for name in kinds:  # cleaned, not dropped: every item is in the emails of its topic
        assert any(f"Bad {name} title" in body for body in bodies), name
    assert any("Bad video  title" in body for body in bodies)


def test_without_cleaning_the_items_that_break_a_body_are_left_out_named_and_everyone_is_sent(runtime, monkeypatch):
    """As if a character the cleaning rule does not know reached rendering."""
    from digest.select import candidates

    monkeypatch.setattr(candidates, "clean_optional", lambda value: value)
    emails, provider, now = _send(runtime)
    kinds = _kinds(runtime)
    topic_of = _seed_bad_items(runtime, kinds)

    summary = send_edition(runtime, provider, now.date(), now=now)

    assert sorted(provider.emails) == sorted(emails)
    assert _ledger(runtime) == [("sent", None)] * READERS
    assert (summary.sent, summary.readers, summary.exit_status) == (READERS, READERS, EXIT_PARTLY_SENT)
    breaking = [name for name in kinds if name in BREAKING or name in NUL]
    readers_of = {"lithium": 600 + 200, "gold": 200 + 200}  # lithium-only or gold-only, and both
    named = {(item.kind, item.guid, item.source, item.title.split()[1], item.readers)
             for item in summary.render_problems.left_out.values()}
    assert named == {("briefing", f"bad-{name}", "Old Feed", name, readers_of[topic_of[f"bad-{name}"]])
                     for name in breaking} | {("video", "bad-video", "Old Feed", "video", 800)}
    assert all("MJML did not compile" in item.error for item in summary.render_problems.left_out.values())
    lines = summary.problems()
    assert sum("bad-" in line and "Old Feed" in line for line in lines) == len(breaking) + 1
    bodies = _bodies(runtime)
    for name in kinds:
        shown = any(f"Bad {name} " in body for body in bodies)
        assert shown == (name not in breaking), name
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == READERS

