"""The worker's tick when a reader's email cannot be rendered: that reader is recorded as
skipped (``render-failed``), everyone else is sent, and the worker's log says so."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from digest.models import Delivery, Subscriber
from digest.render import RenderError

from .helpers import PlainRenderer, add_subscriber

UTC = timezone.utc
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


class FailingForLithium(PlainRenderer):
    """Any body for a lithium reader fails, whatever it holds (so no item is to blame)."""

    def render(self, selection):
        if "lithium" in selection.topics:
            raise RenderError("base.mjml.j2: MJML did not compile: a test fault")
        return super().render(selection)


def test_a_tick_skips_and_logs_only_the_reader_whose_email_cannot_be_rendered(runtime, make_tick, caplog):
    add_subscriber(runtime, "gold@example.com", "UTC", 7, topics=("gold",), created_at=LONG_AGO)
    lithium = add_subscriber(runtime, "lithium@example.com", "UTC", 7, topics=("lithium",), created_at=LONG_AGO)
    tick, clock, provider = make_tick(runtime, datetime(2026, 3, 9, 7, 30, tzinfo=UTC))
    tick.renderer = FailingForLithium()

    with caplog.at_level(logging.WARNING, logger="digest.schedule.tick"):
        report = tick()

    assert [s.email for s in provider.sent] == ["gold@example.com"]
    assert report.skipped["render-failed"] == 1 and "render-failed=1" in report.log_line()
    [logged] = [r.getMessage() for r in caplog.records if "render-failed" in r.getMessage() and "not sent" in r.getMessage()]
    assert "1 reader(s) not sent" in logged and "a test fault" in logged and "2026-03-09" in logged
    with runtime.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.subscriber_id == lithium)).all()
        assert {(r.status, r.skip_reason) for r in rows} == {("skipped", "render-failed"), ("skipped", "missed-send-window")}
        assert all("a test fault" in r.error for r in rows if r.skip_reason == "render-failed")
        assert session.get(Subscriber, lithium).last_digest_at is None  # they get these items next time

    clock.advance(timedelta(minutes=1))
    assert tick.run().due == 0 and len(provider.sent) == 1  # not retried on every tick: --retry-failed does
