"""``send_edition``: one whole edition, as ``digest send`` (and the benchmark) runs it.

recover stale claims -> (operator resets) -> plan -> send pending batches -> summary.
Every step reads the ledger, so running it again after a crash, or twice in a row,
sends only what is still owed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Callable, Sequence

from sqlalchemy import func, select

from ..models import Batch, BatchStatus, Edition
from ..runtime import Runtime
from .ledger import (
    DEFAULT_LEASE, find_edition, get_or_create_edition, pending_batch_ids, recover_stale_batches, reset_batches,
    worker_identity,
)
from .planning import BodyRenderer, SubscriberSelector, plan_edition
from .provider import Provider
from .concurrent import send_batches
from .processes import send_in_processes
from .sending import make_link_maker
from .summary import EditionSummary, Progress


def send_edition(
    runtime: Runtime,
    provider: Provider,
    edition_date: date,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    subscriber_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
    resend_ambiguous: bool = False,
    retry_failed: bool = False,
    selector: SubscriberSelector | None = None,
    renderer: BodyRenderer | None = None,
    worker_id: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
    should_stop: Callable[[], bool] | None = None,
    slot: str = "daily",
) -> EditionSummary:
    now = now or datetime.now(timezone.utc)
    worker_id = worker_id or worker_identity()
    summary = EditionSummary(edition_date, dry_run=dry_run)
    links = None if dry_run else make_link_maker(runtime)  # fail early on a missing secret

    with runtime.sessions() as session:
        if dry_run:
            edition = find_edition(session, edition_date, slot) or Edition(date=edition_date, slot=slot)
        else:
            summary.recovered = recover_stale_batches(session, now, lease)
            edition = get_or_create_edition(session, edition_date, slot)
            if resend_ambiguous:
                summary.reset += reset_batches(session, edition.id, BatchStatus.AMBIGUOUS)
            if retry_failed:
                summary.reset += reset_batches(session, edition.id, BatchStatus.FAILED)
    summary.edition_id = edition.id

    plan = plan_edition(
        runtime, edition, now=now, renderer=renderer, selector=selector, subscriber_ids=subscriber_ids,
        max_recipients=provider.max_recipients, dry_run=dry_run,
    )
    summary.skipped.update(plan.skipped)
    summary.bodies_rendered = plan.bodies_rendered
    summary.render_seconds = plan.render_seconds
    summary.blocked_reason = plan.blocked_reason
    if dry_run:
        summary.sent = plan.queued
        summary.batches["planned"] = plan.batches
        return summary

    with runtime.sessions() as session:
        pending = session.scalar(select(func.count()).select_from(Batch).where(
            Batch.edition_id == edition.id, Batch.status == BatchStatus.PENDING))
    if progress is not None:
        progress.planned(pending or 0)

    def on_batch(outcome):
        summary.add(outcome)
        if progress is not None:
            progress.batch_done(outcome)

    settings = runtime.settings
    if _worth_processes(settings, provider, pending or 0):
        with runtime.sessions() as session:
            batch_ids = pending_batch_ids(session, edition.id)
        outcomes = send_in_processes(settings, batch_ids, processes=settings.send_processes, on_batch=on_batch,
                                     should_stop=should_stop)
    else:
        outcomes = send_batches(runtime, provider, edition.id, worker_id=worker_id, links=links,
                                workers=settings.send_concurrency, on_batch=on_batch, should_stop=should_stop)
    summary.stopped_early = len(outcomes) < (pending or 0) and should_stop is not None and should_stop()
    with runtime.sessions() as session:
        summary.outstanding.update(dict(session.execute(
            select(Batch.status, func.count()).where(
                Batch.edition_id == edition.id, Batch.status.in_([BatchStatus.FAILED, BatchStatus.AMBIGUOUS])
            ).group_by(Batch.status)
        ).all()))
    return summary


#: Fewer pending batches than this per process are sent from this process: starting
#: worker processes costs about a second.
MIN_BATCHES_PER_PROCESS = 25


def _worth_processes(settings, provider: Provider, pending: int) -> bool:
    """Worker processes build the configured provider from settings, so they are used only
    when ``provider`` is that one (not a test's or a proof's own), and the edition is big."""
    return (settings.send_processes > 1 and provider.name == settings.provider
            and pending >= MIN_BATCHES_PER_PROCESS * settings.send_processes)
