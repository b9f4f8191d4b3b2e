"""The gate: nothing reaches a reader of an edition that waits for approval (with
``[review] approval = "required"``), or that an editor held or cancelled.

Two callers, one line each: the top of ``send_edition`` (:func:`check_send`: drafts an
edition that is not drafted yet, then stops with :class:`EditionWaits`) and the worker's
tick (:func:`hold_unapproved`: drafts editions whose first reader's hour is
``draft_lead`` away, and leaves the readers of editions that may not go unplanned, so
they are still due and all go at the first tick after the approval or the resume, within
the catch-up window). With approval ``"none"`` and no edition held, they only look
whether the due editions are held. Batches already planned are stopped one by one
before they start (:mod:`.holds`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy.orm import Session

from ..deliver.ledger import find_edition
from ..runtime import Runtime
from .approval import approval_of
from .snapshot import content_changed, current_snapshot

log = logging.getLogger(__name__)

NOT_DRAFTED = "not drafted yet"


class EditionWaits(Exception):
    """``digest send`` on an edition that waits for approval, is held or was cancelled:
    nothing was sent (exit 0)."""


def required(runtime: Runtime) -> bool:
    return runtime.settings.config.review.approval == "required"


def waiting_reason(session: Session, day: date) -> str | None:
    """Why ``day``'s edition may not go yet (approval required), or None."""
    edition = find_edition(session, day)
    snapshot = current_snapshot(session, edition.id) if edition is not None else None
    if snapshot is None:
        return NOT_DRAFTED
    if approval_of(session, snapshot) is None:
        return f"snapshot v{snapshot.version} ({snapshot.fingerprint[:12]}) drafted {snapshot.taken_at:%Y-%m-%d %H:%M}Z is not approved"
    if content_changed(session, snapshot):
        return (f"items of the approved snapshot v{snapshot.version} were edited since it was drafted: "
                f"redraft ('digest redraft --date {day}') and approve again")
    return None


def how_to_approve(day: date) -> str:
    return (f"look at it with 'digest preview --serve --date {day}' (or the review page), then "
            f"'digest approve --date {day}'")


def check_send(runtime: Runtime, day: date, now: datetime, provider=None, *, dry_run: bool = False) -> None:
    """For ``send_edition``: returns when ``day``'s edition may go; else (held or cancelled,
    or waiting for approval: then drafted first if it is not, proofs through ``provider``,
    not in a dry run) raises :class:`EditionWaits` saying why and what to do."""
    with runtime.sessions() as session:
        stopped = _edition_stopped(session, day)
        reason = waiting_reason(session, day) if required(runtime) and stopped is None else None
    if stopped is not None:
        raise EditionWaits(f"{stopped}; nothing was sent")
    if reason is None:
        return
    if reason == NOT_DRAFTED and not dry_run:
        from .draft import draft_edition

        draft_edition(runtime, day, now=now, by="digest send", provider=provider)
        with runtime.sessions() as session:
            reason = waiting_reason(session, day)
        reason = f"drafted now; {reason}"
    raise EditionWaits(f"edition {day} waits for approval ({reason}); nothing was sent. To send it, "
                           f"{how_to_approve(day)}")


def hold_unapproved(runtime: Runtime, owed, now: datetime):
    """For the worker's tick: ``owed`` (:class:`~digest.schedule.due.DueSubscribers`)
    without the readers of editions that are held, cancelled or wait for approval; drafts
    what is due a draft. With approval "none" and nothing held, one query."""
    from ..schedule.due import DueSubscribers

    with runtime.sessions() as session:
        stopped = {day: why for day in owed.due if (why := _edition_stopped(session, day)) is not None}
    if required(runtime):
        from .timing import editions_to_draft

        with runtime.sessions() as session:
            to_draft = set(editions_to_draft(session, runtime.settings.config, now)) | set(owed.due)
            to_draft = [day for day in sorted(to_draft) if day not in stopped
                        and waiting_reason(session, day) == NOT_DRAFTED]
        if to_draft:
            _draft(runtime, to_draft, now)
        with runtime.sessions() as session:
            for day in owed.due:
                if day not in stopped and (reason := waiting_reason(session, day)) is not None:
                    stopped[day] = f"it waits for approval ({reason}): {how_to_approve(day)}"
    if not stopped:
        return owed
    for day, why in stopped.items():
        log.info("edition %s: %d reader(s) due wait: %s", day, len(owed.due[day]), why)
    return DueSubscribers(due={day: ids for day, ids in owed.due.items() if day not in stopped}, missed=owed.missed)


def _edition_stopped(session: Session, day: date) -> str | None:
    """An editor's hold or cancellation of ``day``'s edition (:mod:`.holds`), or None."""
    from .holds import edition_hold

    edition = find_edition(session, day)
    return edition_hold(session, edition.id) if edition is not None else None


def _draft(runtime: Runtime, days: list[date], now: datetime) -> None:
    from .draft import draft_edition, seed_provider

    with seed_provider(runtime.settings) as provider:
        for day in days:
            report = draft_edition(runtime, day, now=now, by="worker", provider=provider)
            for line in report.lines():
                log.info("%s", line)
