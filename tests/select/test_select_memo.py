"""The selector reads the database once per edition and memoises per-reader answers."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

from select_seeding import NOW
from sqlalchemy import event, select
from sqlalchemy.orm import selectinload

from digest.models import Subscriber
from digest.select import Selector

EDITION = date(2026, 11, 27)


@contextmanager
def counting_queries(engine):
    statements: list[str] = []

    def _count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def test_one_load_then_no_queries_and_shared_answers(runtime, session, seed):
    seed.briefing(title="older", hours_ago=6)
    seed.briefing(title="newer", hours_ago=1)
    seed.video(hours_ago=2)
    # Last digests minutes apart with nothing published between them: same window contents.
    a = seed.subscriber("a@example.com", last_digest_at=NOW - timedelta(hours=4))
    b = seed.subscriber("b@example.com", last_digest_at=NOW - timedelta(hours=3))
    c = seed.subscriber("c@example.com", last_digest_at=NOW - timedelta(hours=8))
    session.commit()
    subscribers = session.scalars(select(Subscriber).options(selectinload(Subscriber.topics)).order_by(Subscriber.id)).all()

    with counting_queries(runtime.engine) as load_queries:
        selector = Selector(session, runtime.settings.config, NOW)
    assert 0 < len(load_queries) <= 6

    with counting_queries(runtime.engine) as statements:
        answers = [selector.for_subscriber(s, EDITION) for s in subscribers]
        again = selector.for_subscriber(subscribers[0], EDITION)
    assert statements == []
    assert answers[0] is answers[1] is again
    assert [x.title for x in answers[0].sections[0].briefings] == ["newer"]
    assert [x.title for x in answers[2].sections[0].briefings] == ["newer", "older"]
    assert {a.id, b.id, c.id} == {s.id for s in subscribers}


def test_a_preview_older_than_any_subscriber_window_loads_more(runtime, session, seed):
    seed.briefing(title="recent", hours_ago=1)
    seed.briefing(title="last week", hours_ago=24 * 6)
    selector = Selector(session, runtime.settings.config, NOW)
    default = selector.for_topics(["lithium"], EDITION)
    assert [x.title for x in default.sections[0].briefings] == ["recent"]
    week = selector.for_topics(["lithium"], EDITION, since=NOW - timedelta(days=7))
    assert [x.title for x in week.sections[0].briefings] == ["recent", "last week"]


def test_selections_share_their_items_and_fingerprint_their_full_text(runtime, session, seed):
    """Two readers' different selections hold the same item objects for the same pieces
    (made once per candidate), and each fingerprint is still the SHA-256 of the
    selection's whole generated repr, item fields spelled out."""
    import hashlib

    from digest.content import BriefingItem, RelatedItem, Selection, TopicSection, VideoItem

    seed.briefing(title="one", hours_ago=1)
    seed.briefing(title="two", hours_ago=2)
    seed.video(hours_ago=2)
    session.commit()
    selector = Selector(session, runtime.settings.config, NOW)
    topics = runtime.settings.config.topic_slugs
    wide = selector.for_topics(topics, EDITION, since=NOW - timedelta(hours=12))
    narrow = selector.for_topics(topics, EDITION, since=NOW - timedelta(minutes=90))
    assert wide is not narrow
    [one] = [b for s in narrow.sections for b in s.briefings]
    assert one.title == "one"
    assert [b for s in wide.sections for b in s.briefings if b.title == "one"][0] is one

    def spelled_out(value) -> str:  # the dataclasses' generated repr, no cache
        if isinstance(value, (BriefingItem, VideoItem, RelatedItem)):
            fields = ", ".join(f"{name}={spelled_out(getattr(value, name))}" for name in value.__dataclass_fields__)
            return f"{type(value).__qualname__}({fields})"
        if isinstance(value, (Selection, TopicSection)):
            fields = ", ".join(f"{name}={spelled_out(getattr(value, name))}" for name in value.__dataclass_fields__)
            return f"{type(value).__qualname__}({fields})"
        if isinstance(value, tuple):
            inner = ", ".join(spelled_out(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return repr(value)

    for selection in (wide, narrow):
        assert selection.fingerprint() == hashlib.sha256(spelled_out(selection).encode()).hexdigest()
    assert wide.fingerprint() != narrow.fingerprint()


def test_an_item_that_cannot_be_hashed_is_still_spelled_out():
    """The items' kept ``repr`` is keyed by the item; one given a list for a tuple cannot be
    a key, and is spelled out as the dataclass spells it, not refused."""
    from datetime import datetime, timezone

    from digest.content import BriefingItem

    item = BriefingItem(1, "https://example.com/a", "A", "<p>a</p>", "a", None,
                        datetime(2026, 11, 27, tzinfo=timezone.utc), "%%date:202611270000%%", ["gold"], None, None, None)
    assert repr(item) == BriefingItem.__repr__.__wrapped__(item)
    assert "topics=['gold']" in repr(item)
