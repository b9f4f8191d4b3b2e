"""Weekly and paused readers on the simulated clock, across a DST change: a weekly reader
gets one email a week, on their local weekday at their hour; a paused one none before
the date, then one whose window starts one regular period before it (the README's rule);
a daily reader one a day, as before. Every instant below is worked out by hand."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from digest.content import RenderedEmail, Selection
from digest.deliver.batch import Sender
from digest.deliver.runners.in_process import InlineRunner
from digest.models import Briefing, Subscriber, Topic
from digest.schedule.tick import DeliveryTick
from digest.subscribers.cadence import Cadence, apply_cadence
from fakes.clock import FakeClock

from .helpers import ClockedProvider, add_subscriber

UTC = timezone.utc
HOUR = timedelta(hours=1)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def set_cadence(runtime, subscriber_id: int, cadence: Cadence, now: datetime, *, last_digest_at=None) -> None:
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber_id)
        apply_cadence(row, cadence, now)
        if last_digest_at is not None:
            row.last_digest_at = last_digest_at


def run_hourly(tick, clock, end: datetime) -> None:
    """A tick on every whole hour (every send instant below is one) until ``end``."""
    while clock.now() < end:
        report = tick.run()
        assert report.failed == 0 and report.ambiguous == 0
        clock.advance(HOUR)


# (zone, the simulated three weeks as [start, end) in UTC, readers:
#  (name, send hour, cadence, the UTC send instants expected))
SCENARIOS = {
    # New York falls back on Sunday 1 November 2026 (01:00-02:00 happens twice): EDT -4
    # before, EST -5 after. Three local weeks: Tuesday 20 October to Monday 9 November.
    "new-york-november": ("America/New_York", at(10, 20, 4), at(11, 10, 5), [
        ("weekly-mon-7", 7, Cadence("weekly", "mon"), [at(10, 26, 11), at(11, 2, 12), at(11, 9, 12)]),
        # Sunday 01:00: on 1 November its first occurrence (EDT).
        ("weekly-sun-1", 1, Cadence("weekly", "sun"), [at(10, 25, 5), at(11, 1, 5), at(11, 8, 6)]),
        ("paused-weekly", 7, Cadence("weekly", "mon", date(2026, 11, 3)), [at(11, 9, 12)]),
        ("daily-7", 7, Cadence(), [at(10, d, 11) for d in range(20, 32)] + [at(11, 1, 12)]
         + [at(11, d, 12) for d in range(2, 10)]),
        ("paused-daily", 7, Cadence(paused_until=date(2026, 11, 3)), [at(11, d, 12) for d in range(3, 10)]),
    ]),
    # London springs forward on Sunday 29 March 2026 (01:00 does not exist): GMT before,
    # BST +1 after. Three local weeks: Monday 16 March to Sunday 5 April.
    "london-march": ("Europe/London", at(3, 16, 0), at(4, 5, 23), [
        ("weekly-mon-7", 7, Cadence("weekly", "mon"), [at(3, 16, 7), at(3, 23, 7), at(3, 30, 6)]),
        # Sunday 01:00 on 29 March is in the gap: the instant after it, 02:00 BST (01:00 UTC).
        ("weekly-sun-1", 1, Cadence("weekly", "sun"), [at(3, 22, 1), at(3, 29, 1), at(4, 5, 0)]),
        ("paused-weekly", 7, Cadence("weekly", "wed", date(2026, 3, 26)), [at(4, 1, 6)]),
        ("daily-7", 7, Cadence(), [at(3, d, 7) for d in range(16, 29)] + [at(3, d, 6) for d in range(29, 32)]
         + [at(4, d, 6) for d in range(1, 6)]),
        ("paused-daily", 7, Cadence(paused_until=date(2026, 3, 31)),
         [at(3, 31, 6)] + [at(4, d, 6) for d in range(1, 6)]),
    ]),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_weekly_paused_and_daily_readers_across_dst(runtime, make_tick, scenario):
    zone, start, end, readers = SCENARIOS[scenario]
    tick, clock, provider = make_tick(runtime, start)
    for name, hour, cadence, _ in readers:
        sid = add_subscriber(runtime, f"{name}@example.com", zone, hour, created_at=start)
        set_cadence(runtime, sid, cadence, start)

    run_hourly(tick, clock, end)

    sent = defaultdict(list)
    for s in provider.sent:
        sent[s.email.split("@")[0]].append(s.at)
    for name, _hour, _cadence, expected in readers:
        assert sent[name] == expected, name
    # Nobody was recorded as missed either: a reader not due is simply not in the edition.
    with runtime.session() as session:
        from digest.models import Delivery

        assert session.scalars(select(Delivery.skip_reason).where(Delivery.status == "skipped")).all() == []


class TitlesRenderer:
    """A body that lists the briefings of each topic section (their titles' last word: the
    guid given below), to check windows."""

    def render(self, selection: Selection) -> RenderedEmail:
        guids = [b.title.split()[-1] for section in selection.sections for b in section.briefings]
        text = "items: " + " ".join(guids) + "\nUnsubscribe: %%unsubscribe_url%%\n"
        return RenderedEmail(subject=f"Digest {selection.edition_date}", preheader="",
                             html=f'<html><body>{" ".join(guids)}<a href="%%unsubscribe_url%%">u</a></body></html>',
                             text=text, tokens=frozenset({"unsubscribe_url"}))


class BodyRecordingProvider(ClockedProvider):
    def __init__(self, clock):
        super().__init__(clock)
        self.bodies: dict[str, list[str]] = defaultdict(list)

    def send(self, batch):
        for r in batch.recipients:
            self.bodies[r.email].append(batch.body.text.split("\n", 1)[0])
        return super().send(batch)


def add_gold_briefing(runtime, guid: str, published_at: datetime) -> None:
    with runtime.session() as session:
        gold = session.scalars(select(Topic).where(Topic.slug == "gold")).one()
        session.add(Briefing(guid=guid, url=f"https://example.com/{guid}", title=f"Gold {guid}",
                             body_html="<p>Gold moved.</p>", excerpt="Gold moved.", author="Desk",
                             published_at=published_at, attribution="Company filings", author_disclosure="none",
                             content_hash=guid, topics=[gold]))


def test_the_first_digest_after_a_pause_carries_one_regular_period(runtime):
    """London, across the March change. Both readers had their last digest before the
    pause; the daily one is paused until Monday 30 March, the weekly (Mondays) one until
    Wednesday 25 March, so both come back on Monday 30 March at 07:00 BST (06:00 UTC).
    Their windows, by the rule: the daily one's from its regular send on Sunday 29 March
    (07:00 BST = 06:00 UTC); the weekly one's from Monday 23 March (07:00 GMT = 07:00 UTC)."""
    start = at(3, 21, 0)
    daily = add_subscriber(runtime, "daily@example.com", "Europe/London", 7, created_at=at(3, 1, 0))
    weekly = add_subscriber(runtime, "weekly@example.com", "Europe/London", 7, created_at=at(3, 1, 0))
    set_cadence(runtime, daily, Cadence(paused_until=date(2026, 3, 30)), at(3, 20, 8), last_digest_at=at(3, 20, 7))
    set_cadence(runtime, weekly, Cadence("weekly", "mon", date(2026, 3, 25)), at(3, 18, 8),
                last_digest_at=at(3, 16, 7))
    for guid, published in [
        ("during-pause", at(3, 21, 12)),   # after both last digests, long before either window
        ("monday-23", at(3, 23, 8)),       # in the weekly window only (after 23 March 07:00 UTC)
        ("sunday-early", at(3, 29, 5)),    # before the daily window (29 March 06:00 UTC)
        ("sunday-late", at(3, 29, 6, 30)),
        ("monday-early", at(3, 30, 5, 30)),
        ("after-send", at(3, 30, 6, 30)),  # after Monday's send: the next digest's
    ]:
        add_gold_briefing(runtime, guid, published)

    clock = FakeClock(start)
    provider = BodyRecordingProvider(clock)
    runner = InlineRunner(Sender.open(runtime, provider, "test-worker"))
    tick = DeliveryTick(runtime, runner, max_recipients=provider.max_recipients, clock=clock,
                        renderer=TitlesRenderer())  # the real selector
    run_hourly(tick, clock, at(3, 30, 12))

    assert [s.at for s in provider.sent if s.email == "daily@example.com"] == [at(3, 30, 6)]
    assert [s.at for s in provider.sent if s.email == "weekly@example.com"] == [at(3, 30, 6)]
    assert provider.bodies["daily@example.com"] == ["items: monday-early sunday-late"]
    assert provider.bodies["weekly@example.com"] == ["items: monday-early sunday-late sunday-early monday-23"]
