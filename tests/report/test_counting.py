"""Events to figures: each SendGrid event counted once, readers once per figure, a post
in one transaction. Expected figures are worked out by hand from the events listed."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone

from sqlalchemy import event as sa_event, select

from digest.models import EditionCounter, ReaderFigure, Subscriber, Topic
from digest.web.sendgrid_events import record_events

DAY1 = date(2026, 12, 1)
DAY2 = date(2026, 12, 2)
URL_A = "https://ridgeline.example/b/gold"
URL_B = "https://ridgeline.example/v/lithium-video"


def stamp(day: date, hour: int = 10) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc).timestamp())


def ev(eid: str, kind: str, reader: int, day: date = DAY1, *, edition: int = 7, **extra) -> dict:
    return {"sg_event_id": eid, "event": kind, "email": f"r{reader}@example.com", "timestamp": stamp(day),
            "edition_id": str(edition), "batch_id": "1", "subscriber_id": str(reader), **extra}


def add_readers(runtime, topics_by_reader: dict[int, tuple[str, ...]]) -> None:
    with runtime.session() as session:
        by_slug = {t.slug: t for t in session.scalars(select(Topic))}
        for n, slugs in topics_by_reader.items():
            session.add(Subscriber(id=n, email=f"r{n}@example.com", topics=[by_slug[s] for s in slugs]))


def counters(runtime, edition: int = 7) -> Counter:
    """(figure, item) -> count summed over days."""
    totals: Counter = Counter()
    with runtime.session() as session:
        for row in session.scalars(select(EditionCounter).where(EditionCounter.edition_id == edition)):
            totals[(row.figure, row.item)] += row.count
    return totals


def by_day(runtime, figure: str) -> dict[date, int]:
    with runtime.session() as session:
        rows = session.scalars(select(EditionCounter).where(EditionCounter.figure == figure, EditionCounter.item == ""))
        return {row.day: row.count for row in rows}


def test_a_day_of_events_becomes_the_figures_worked_out_by_hand(runtime):
    add_readers(runtime, {1: ("gold",), 2: ("lithium",), 3: ("gold", "lithium")})
    first = [
        ev("d1", "delivered", 1), ev("d2", "delivered", 2), ev("d3", "delivered", 3),
        ev("d1b", "delivered", 1),  # a second event saying the same: one reader
        ev("f1", "deferred", 2), ev("f2", "deferred", 2),
        ev("o1", "open", 1, sg_machine_open=False), ev("o2", "open", 1, sg_machine_open=False),
        ev("o3", "open", 2, sg_machine_open=True),
        ev("c1", "click", 1, url=URL_A), ev("c2", "click", 1, url=URL_A),
        ev("b1", "bounce", 4, type="bounce"), ev("b2", "bounce", 5, type="blocked"),
        ev("x1", "dropped", 6, reason="Bounced Address"),
        ev("s1", "spamreport", 2),
        ev("p1", "processed", 1),  # counts in no figure
        {"sg_event_id": "n1", "event": "open", "email": "r1@example.com", "timestamp": stamp(DAY1)},  # no edition
        ev("o1", "open", 1),  # the same id again in the same post
    ]
    second = [
        ev("o4", "open", 3, DAY2), ev("c3", "click", 3, DAY2, url=URL_B),
        ev("u1", "unsubscribe", 3, DAY2),
        ev("c1", "click", 1, url=URL_A), ev("d2", "delivered", 2),  # SendGrid retrying part of the first post
    ]
    record_events(runtime, first)
    record_events(runtime, second)
    record_events(runtime, second)  # the whole second post retried

    from digest.report.counting import url_item
    assert counters(runtime) == {
        ("delivered", ""): 3, ("delivered", "topic:gold"): 2, ("delivered", "topic:lithium"): 2,
        ("deferred", ""): 1, ("bounced", ""): 1, ("blocked", ""): 1, ("dropped", ""): 1,
        ("opened", ""): 2, ("opened", "topic:gold"): 2, ("opened", "topic:lithium"): 1,
        ("machine_opened", ""): 1,
        ("clicked", ""): 2, ("clicked", "topic:gold"): 2, ("clicked", "topic:lithium"): 1,
        ("clicks", ""): 3, ("clicks", url_item(URL_A)): 2, ("clicks", url_item(URL_B)): 1,
        ("unsubscribed", ""): 1, ("complained", ""): 1,
    }
    assert by_day(runtime, "opened") == {DAY1: 1, DAY2: 1}
    assert by_day(runtime, "clicks") == {DAY1: 2, DAY2: 1}
    with runtime.session() as session:
        urls = {row.url for row in session.scalars(select(EditionCounter).where(EditionCounter.url.is_not(None)))}
    assert urls == {URL_A, URL_B}


def test_a_reader_counts_on_the_day_their_first_event_arrived(runtime):
    """Out of order: the day-2 open arrives first, so the reader's open counts on day 2."""
    record_events(runtime, [ev("late", "open", 9, DAY2)])
    record_events(runtime, [ev("early", "open", 9, DAY1)])
    assert by_day(runtime, "opened") == {DAY2: 1}


def test_a_post_of_1000_events_is_one_transaction(runtime):
    events = [ev(f"d{n}", "delivered", n) for n in range(1, 1001)]
    commits = []

    def on_commit(connection):
        commits.append(connection)

    sa_event.listen(runtime.engine, "commit", on_commit)
    try:
        counts = record_events(runtime, events)
    finally:
        sa_event.remove(runtime.engine, "commit", on_commit)
    assert counts["stored"] == 1000
    assert len(commits) == 1
    assert counters(runtime)[("delivered", "")] == 1000
    with runtime.session() as session:
        assert len(session.scalars(select(ReaderFigure.id)).all()) == 1000


def test_two_editions_and_other_mail_are_kept_apart(runtime):
    record_events(runtime, [ev("a", "delivered", 1, edition=7), ev("b", "delivered", 1, edition=8),
                            ev("c", "delivered", 2, edition="not-a-number")])
    assert counters(runtime, 7) == {("delivered", ""): 1}
    assert counters(runtime, 8) == {("delivered", ""): 1}
    with runtime.session() as session:
        assert len(session.scalars(select(EditionCounter.id)).all()) == 2


def test_forgetting_a_reader_drops_what_they_did_and_keeps_the_totals(runtime):
    from digest.subscribers.forget import forget
    add_readers(runtime, {1: ("gold",), 2: ("gold",)})
    record_events(runtime, [ev("o1", "open", 1), ev("o2", "open", 2), ev("c1", "click", 1, url=URL_A)])
    with runtime.session() as session:
        forget(session, "test-secret-key-0123456789", "r1@example.com")
    with runtime.session() as session:
        marks = session.execute(select(ReaderFigure.subscriber_id, ReaderFigure.figure)).all()
    assert sorted(map(tuple, marks)) == [(2, "opened")]
    assert counters(runtime)[("opened", "")] == 2 and counters(runtime)[("clicks", "")] == 1
