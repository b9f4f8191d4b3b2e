"""``send_edition``: one whole edition, as ``digest send`` (and the benchmark) runs it.

recover stale claims -> (operator resets) -> plan -> send pending batches -> summary.
Every step reads the ledger, so running it again after a crash, or twice in a row,
sends only what is still owed. An operator's resend (``resend_ambiguous`` /
``retry_failed``) touches only this edition and plans nobody new: it resends, after
settling whoever the provider's stored events already account for. A dry run reports
what the real run would do: the same planner, and the same existing batches
(:mod:`.dry_run`). For a big list with the configured provider, batches are
sent from worker processes that start while planning is still writing them
(:mod:`.processes`); otherwise from this process, after planning, ``send_concurrency`` at
a time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Callable, Sequence

from sqlalchemy import func, select

from ..models import Batch, BatchStatus, Edition, Subscriber, SubscriberStatus
from ..review.gate import check_send
from ..runtime import Runtime
from .ledger import (
    DEFAULT_LEASE, find_edition, get_or_create_edition, pending_batch_ids, record_last_digests, recover_stale_batches,
    reset_batches, worker_identity,
)
from .planning import BodyRenderer, PlanSummary, SkipReason, SubscriberSelector, plan_edition
from .providers.base import Provider
from .concurrent import send_batches
from .dry_run import existing_work
from .processes import ProcessSender
from .render_failures import forget_render_failures, render_failed_readers
from .sending import make_link_maker
from .ledger.settlement import settle_from_stored_events
from .summary import EditionSummary, Progress, read_edition_ledger


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
    check_send(runtime, edition_date, now, provider, dry_run=dry_run)  # [review] approval (digest.review.gate)
    worker_id = worker_id or worker_identity()
    summary = EditionSummary(edition_date, dry_run=dry_run)
    links = None if dry_run else make_link_maker(runtime)  # fail early on a missing secret

    resending = resend_ambiguous or retry_failed
    replan: list[int] | None = None  # with --retry-failed: the readers whose render failed
    with runtime.sessions() as session:
        if retry_failed:
            replan = render_failed_readers(session, find_edition(session, edition_date, slot), subscriber_ids)
        if dry_run:
            edition = find_edition(session, edition_date, slot) or Edition(date=edition_date, slot=slot)
            existing = existing_work(session, edition.id, resend_ambiguous=resend_ambiguous,
                                     retry_failed=retry_failed, now=now, lease=lease)
        else:
            summary.recovered = recover_stale_batches(session, now, lease)
            edition = get_or_create_edition(session, edition_date, slot)
            if resend_ambiguous:
                settle_from_stored_events(session, edition.id)
                summary.reset += reset_batches(session, edition.id, BatchStatus.AMBIGUOUS)
            if retry_failed:
                summary.reset += reset_batches(session, edition.id, BatchStatus.FAILED)
                summary.replanned = forget_render_failures(session, edition.id)
    summary.edition_id = edition.id
    plan_ids, plan_in = subscriber_ids, edition
    if resending and not replan:  # a resend plans nobody new
        if dry_run:
            return _dry_run_result(runtime, summary, existing, subscriber_ids)
    elif resending:  # ... but the readers whose render failed are planned (and rendered) again
        plan_ids = replan
        if dry_run:  # their rows are still there: planned as for a new edition of the day
            plan_in = Edition(date=edition_date, slot=slot)

    settings = runtime.settings
    # A big edition's batches go to worker processes as soon as planning commits them.
    sender = None
    if not dry_run and not resending and _worth_processes(runtime, provider, subscriber_ids):
        sender = ProcessSender(runtime, edition.id, processes=settings.send_processes, should_stop=should_stop)
        sender.start()
    try:
        plan = PlanSummary(edition.id) if resending and not replan else plan_edition(
            runtime, plan_in, now=now, renderer=renderer, selector=selector, subscriber_ids=plan_ids,
            max_recipients=provider.max_recipients, dry_run=dry_run, big=sender is not None,
        )
    except BaseException:
        if sender is not None:  # batches already running settle; no more are started
            sender.abort()
            for _ in sender.outcomes():
                pass
        raise
    if sender is not None:
        sender.planning_finished()
    summary.skipped.update(plan.skipped)
    summary.bodies_rendered = plan.bodies_rendered
    summary.render_seconds = plan.render_seconds
    summary.blocked_reason = plan.blocked_reason
    summary.render_problems = plan.render_problems
    if dry_run:
        summary.sent = plan.queued
        summary.batches["planned"] = plan.batches
        return _dry_run_result(runtime, summary, existing, subscriber_ids)

    with runtime.sessions() as session:
        if sender is None:
            pending = session.scalar(select(func.count()).select_from(Batch).where(
                Batch.edition_id == edition.id, Batch.status == BatchStatus.PENDING))
        else:  # those already handed out are this run's too, pending or not. The ledger is
            # read first: a batch no longer pending then was handed out before handed_out().
            waiting = set(pending_batch_ids(session, edition.id))
            pending = len(sender.handed_out() | waiting)
    if progress is not None:
        progress.planned(pending or 0)

    def on_batch(outcome):
        summary.add(outcome)
        if progress is not None:
            progress.batch_done(outcome)

    if sender is not None:
        outcomes = []
        for outcome in sender.outcomes():
            outcomes.append(outcome)
            on_batch(outcome)
    else:
        outcomes = send_batches(runtime, provider, edition.id, worker_id=worker_id, links=links,
                                workers=settings.send_concurrency, on_batch=on_batch, should_stop=should_stop)
    summary.stopped_early = len(outcomes) < (pending or 0) and should_stop is not None and should_stop()
    with runtime.sessions() as session:
        # One statement per part of the subscriber table for the whole edition, not one per batch.
        record_last_digests(session, edition.id, parts=settings.send_processes, open_session=runtime.sessions)
        summary.outstanding.update(dict(session.execute(
            select(Batch.status, func.count()).where(
                Batch.edition_id == edition.id, Batch.status.in_([BatchStatus.FAILED, BatchStatus.AMBIGUOUS])
            ).group_by(Batch.status)
        ).all()))
        summary.account(read_edition_ledger(session, edition.id, subscriber_ids),
                        own_skips=plan.skipped[SkipReason.NO_NEW_ITEMS] + plan.skipped[SkipReason.RENDER_FAILED]
                        + plan.skipped[SkipReason.IN_FLIGHT])
    return summary


def _dry_run_result(runtime: Runtime, summary: EditionSummary, existing, subscriber_ids) -> EditionSummary:
    """The planner's figures plus the batches that already exist and would be sent, counted
    against the edition's ledger as the real run counts them (:meth:`EditionSummary.account`):
    its rows that the run would neither send nor write are ``already-sent`` (or still
    queued, in a batch a live process holds)."""
    summary.sent += existing.recipients
    summary.batches["planned"] += existing.batches
    if summary.edition_id is None:
        summary.skipped[SkipReason.SUPPRESSED] += existing.suppressed
        return summary
    with runtime.sessions() as session:
        ledger = read_edition_ledger(session, summary.edition_id, subscriber_ids)
    summary.queued = ledger.queued - existing.queued_rows
    summary.skipped[SkipReason.ALREADY_SENT] = (ledger.rows - summary.queued - existing.recipients
                                                - existing.suppressed)
    summary.skipped[SkipReason.SUPPRESSED] = existing.suppressed + ledger.unplanned_inactive
    return summary


def _worth_processes(runtime: Runtime, provider: Provider, subscriber_ids) -> bool:
    """Worker processes build the configured provider from settings, so they are used only
    when ``provider`` is that one (not a test's or a proof's own), and the list is big
    (``DIGEST_READERS_PER_SEND_PROCESS`` active subscribers per process)."""
    settings = runtime.settings
    if settings.send_processes <= 1 or provider.name != settings.provider:
        return False
    if subscriber_ids is not None:
        readers = len(subscriber_ids)
    else:
        with runtime.sessions() as session:
            readers = session.scalar(select(func.count()).select_from(Subscriber)
                                     .where(Subscriber.status == SubscriberStatus.ACTIVE)) or 0
    return readers >= settings.readers_per_send_process * settings.send_processes
