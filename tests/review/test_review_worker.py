"""The worker with ``[review] approval = "required"``, on the simulated clock across the
spring-forward change of 8 March 2026 (New York's 02:00 does not exist that day).

Times worked out by hand (UTC): the 8 March edition's first reader is Kolkata's 07:00
(+5:30) = 01:30, so it is drafted at 23:30 on 7 March (draft_lead 2h). New York's 02:00
on 8 March resolves to 03:00 EDT = 07:00; London's 07:00 is 07:00 (GMT); New York's 07:00
is 11:00 (EDT, -4); Los Angeles' 23:00 on 8 March is 06:00 on 9 March (PDT, -7).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from digest.deliver.batch import Sender
from digest.deliver.runners.in_process import InlineRunner
from digest.models import Delivery, Edition, EditionSnapshot, ReviewProof
from digest.review.approval import approve
from digest.review.controls import redraft
from digest.schedule.tick import DeliveryTick
from fakes.clock import FakeClock

from worker.helpers import add_subscriber
from .helpers import BodyRecorder, TitlesRenderer, add_briefing, with_review

UTC = timezone.utc
STEP = timedelta(minutes=15)
MARCH_8, MARCH_9 = date(2026, 3, 8), date(2026, 3, 9)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


READERS = {  # email: (zone, hour, when the 8 March edition is due, when the 9 March one is)
    "kolkata@example.com": ("Asia/Kolkata", 7, at(8, 1, 30), at(9, 1, 30)),
    "ny-gap@example.com": ("America/New_York", 2, at(8, 7), at(9, 6)),
    "london@example.com": ("Europe/London", 7, at(8, 7), at(9, 7)),
    "ny@example.com": ("America/New_York", 7, at(8, 11), at(9, 11)),
    "la@example.com": ("America/Los_Angeles", 23, at(9, 6), at(10, 6)),
}


def test_nothing_before_approval_then_every_reader_due_at_once_and_the_rest_at_their_hour(runtime, tmp_path):
    runtime = with_review(runtime, approval="required", draft_lead="2h", seed=["desk@example.com"], seed_proofs=1)
    clock, provider, tick, run_until = _simulation(runtime, at(7, 12))

    run_until(at(7, 23, 30))
    assert drafted(runtime) == {date(2026, 3, 6): at(7, 12), date(2026, 3, 7): at(7, 12)}  # readers were due
    tick.run()  # 23:30: the 8 March edition is drafted (its first reader is at 01:30)
    assert drafted(runtime)[MARCH_8] == at(7, 23, 30)
    with runtime.session() as session:  # one proof to the seed address: the 6 and 7 March drafts had no body
        assert session.scalars(select(ReviewProof.address)).all() == ["desk@example.com"]  # (nothing published yet)
    clock.advance(STEP)
    add_briefing(runtime, "After the draft", at(8, 0))  # published after the snapshot
    run_until(at(8, 7, 15))
    assert provider.received == []  # three readers' hour passed: none gets anything before approval

    with runtime.session() as session:
        approve(session, MARCH_8, by="editor", now=clock.now())
    run_until(at(9, 6, 15))  # through Los Angeles' hour on 9 March UTC

    by_reader = {(r.email, r.edition_date): r for r in provider.received}
    assert Counter((r.email, r.edition_date) for r in provider.received) == Counter(
        {(email, MARCH_8): 1 for email in READERS})  # one each, and nothing of the unapproved editions
    assert {email: by_reader[email, MARCH_8].at for email in READERS} == {
        "kolkata@example.com": at(8, 7, 15),  # due since 01:30: sent at the first tick after the approval
        "ny-gap@example.com": at(8, 7, 15),   # due since 07:00
        "london@example.com": at(8, 7, 15),   # due since 07:00
        "ny@example.com": at(8, 11),          # their own hour
        "la@example.com": at(9, 6),           # their own hour (23:00 PDT)
    }
    assert {r.items for r in provider.received} == {"Before the draft"}  # not the item after the snapshot

    # The 9 March edition carries what came after the 8 March snapshot.
    with runtime.session() as session:
        approve(session, MARCH_9, by="editor", now=clock.now())
    run_until(at(9, 11, 15))
    ninth = {r.email: (r.at, r.items) for r in provider.received if r.edition_date == MARCH_9}
    assert ninth == {
        "kolkata@example.com": (at(9, 6, 15), "After the draft"),  # waited since 01:30, within the 6 h window
        "ny-gap@example.com": (at(9, 6, 15), "After the draft"),    # 02:00 EDT = 06:00, waited a quarter
        "london@example.com": (at(9, 7), "After the draft"),
        "ny@example.com": (at(9, 11), "After the draft"),
    }
    with runtime.session() as session:  # the 7 March edition was never approved: every window closed
        skipped = session.execute(select(Delivery.status, Delivery.skip_reason).join(Edition, Edition.id == Delivery.edition_id)
                                  .where(Edition.date == date(2026, 3, 7))).all()
    assert Counter(skipped) == Counter({("skipped", "missed-send-window"): 5})


def _simulation(runtime, start: datetime):
    """The readers above, one briefing before the 8 March draft, and a tick on a clock from
    ``start``: (clock, provider, tick, run_until(end): a tick every STEP until ``end``)."""
    for email, (zone, hour, _, _) in READERS.items():
        add_subscriber(runtime, email, zone, hour, created_at=at(1, 0))
    add_briefing(runtime, "Before the draft", at(7, 20))
    clock = FakeClock(start)
    provider = BodyRecorder(clock)
    tick = DeliveryTick(runtime, InlineRunner(Sender.open(runtime, provider)), max_recipients=provider.max_recipients,
                        clock=clock, renderer=TitlesRenderer())

    def run_until(end: datetime) -> None:
        while clock.now() < end:
            tick.run()
            clock.advance(STEP)

    return clock, provider, tick, run_until


def drafted(runtime) -> dict[date, datetime]:
    with runtime.session() as session:
        return dict(session.execute(select(Edition.date, EditionSnapshot.taken_at)
                                    .join(Edition, Edition.id == EditionSnapshot.edition_id)).all())


def test_redraft_sends_the_new_content_only_to_readers_not_yet_sent_to(runtime):
    runtime = with_review(runtime, approval="required", draft_lead="2h")
    clock, provider, tick, run_until = _simulation(runtime, at(7, 23))

    run_until(at(8, 7))
    with runtime.session() as session:
        approve(session, MARCH_8, by="editor", now=clock.now())
    run_until(at(8, 8))  # Kolkata, New York's 02:00 and London sent at 07:00
    add_briefing(runtime, "Correction", at(8, 7, 50))
    unplanned, report = redraft(runtime, MARCH_8, by="editor", now=clock.now())
    assert (unplanned.batches, unplanned.readers, report.version) == (0, 0, 2)  # nobody was queued
    run_until(at(8, 11, 30))  # New York's 11:00 passes: the new snapshot is not approved yet
    assert sorted(r.email for r in provider.received) == ["kolkata@example.com", "london@example.com",
                                                          "ny-gap@example.com"]
    with runtime.session() as session:
        approve(session, MARCH_8, by="editor", now=clock.now())
    run_until(at(9, 6, 15))

    assert {(r.email, r.at, r.items) for r in provider.received} == {
        ("kolkata@example.com", at(8, 7), "Before the draft"),
        ("ny-gap@example.com", at(8, 7), "Before the draft"),
        ("london@example.com", at(8, 7), "Before the draft"),
        ("ny@example.com", at(8, 11, 30), "Before the draft|Correction"),  # the redraft, once approved
        ("la@example.com", at(9, 6), "Before the draft|Correction"),
    }
