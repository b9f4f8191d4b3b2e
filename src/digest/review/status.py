"""What ``digest status`` says about review: for each edition from yesterday to tomorrow
that is drafted or due a draft, whether it is approved (by whom, when) or waits, with
how many readers are due and since when."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from ..models import Edition, EditionSnapshot
from ..runtime import Runtime
from ..schedule.due import find_due
from .approval import approval_of
from .gate import how_to_approve, required, waiting_reason
from .snapshot import current_snapshot
from .timing import editions_to_draft, waiting_since


def review_lines(runtime: Runtime, now: datetime) -> list[str]:
    config = runtime.settings.config
    with runtime.sessions() as session:
        today = now.date()
        days: set[date] = set(session.scalars(
            select(Edition.date).join(EditionSnapshot, EditionSnapshot.edition_id == Edition.id)
            .where(Edition.date.between(today - timedelta(days=1), today + timedelta(days=1)))))
        if not required(runtime):
            if not days:
                return []
            lines = ['review: approval is "none" (editions go at each reader\'s hour without waiting)']
        else:
            days |= set(editions_to_draft(session, config, now))
            lines = ['review: approval is "required" (nothing reaches a reader before an editor approves)']
        owed = find_due(session, config.schedule, now).due if required(runtime) else {}
        for day in sorted(days):
            reason = waiting_reason(session, day)
            if reason is None:
                edition = session.scalars(select(Edition).where(Edition.date == day, Edition.slot == "daily")).one()
                snapshot = current_snapshot(session, edition.id)
                approval = approval_of(session, snapshot)
                lines.append(f"  edition {day}: snapshot v{snapshot.version} ({snapshot.fingerprint[:12]}) approved by "
                             f"{approval.approved_by} at {approval.approved_at:%Y-%m-%d %H:%M}Z")
                continue
            if not required(runtime):
                lines.append(f"  edition {day}: drafted, {reason} (not needed: approval is \"none\")")
                continue
            waiting = len(owed.get(day, ()))
            since = waiting_since(session, config, day, now)
            when = f", waiting since {since:%Y-%m-%d %H:%M}Z" if waiting and since else ""
            lines.append(f"  ! edition {day} waits for approval ({reason}): {waiting} reader(s) due{when}; "
                         f"{how_to_approve(day)}")
        session.rollback()
    return lines
