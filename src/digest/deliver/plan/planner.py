"""Planning an edition: who gets which body, written to the ledger before anything is sent.

Subscribers are streamed in chunks (never all in memory). Each one's selection is
fingerprinted; every distinct selection is rendered **once** (in worker processes for a
big edition: :mod:`.bodies`) and stored once as a :class:`~digest.models.RenderedBody`,
its dates left as zone-free tokens. Subscribers sharing a body are cut into batches of at
most the provider's limit, whatever their zones: each delivery row keeps its reader's
zone, and the dates are filled per reader when the batch is sent (:mod:`digest.deliver.dates`).

After each chunk, full batches (and, at the end, all the rest) are written on one
background thread while the next chunk is read and selected: the bodies rendered since
the last write, the numbered batches and their delivery rows, in one transaction, so a
batch never exists without its body and recipients.

The unique (subscriber, edition) constraint is the last guard: rows a concurrent
planner wrote first are not inserted again (``ON CONFLICT DO NOTHING``) and those
subscribers are counted ``already-sent``. A reader with a delivery still in flight in
another edition is not planned at all: they get a ``skipped`` row (``in-flight``,
:mod:`digest.deliver.ledger.in_flight`) before the others are read.
"""


from __future__ import annotations

import logging
from typing import Sequence

from ...models import Edition
from ...runtime import Runtime
from ...subscribers.cadence import due_on
from ..collector import fewer_collections
from ..ledger import record_last_digests
from ..ledger.departures import plan_horizon
from ..run import EditionRun
from .bodies import BodyRenderer, EditionBodies
from .readers import ReaderSelector, SubscriberRow, SubscriberSelector, PlannedSubscriber, active_unplanned, count_outside, skip_in_flight
from .result import PlanSummary, SkipReason
from .writer import BatchWriter

log = logging.getLogger(__name__)


def plan_edition(
    runtime: Runtime,
    edition: Edition,
    run: EditionRun,
    *,
    renderer: BodyRenderer | None = None,
    selector: SubscriberSelector | None = None,
    subscriber_ids: Sequence[int] | None = None,
    max_recipients: int,
    chunk_size: int = 20000,
    render_processes: int | None = None,
) -> PlanSummary:
    """Write batches and ``queued`` delivery rows for every active subscriber not yet in
    this edition's ledger. With ``run.dry_run`` select and render only, writing nothing
    (``edition`` may then be a transient object without an id). Renders may run in up to
    ``render_processes`` worker processes (default: ``DIGEST_RENDER_PROCESSES``) while
    planning goes on (:mod:`.bodies`); ``run.big`` (the edition is sent from worker
    processes while planning goes on): every render in those, from the first."""
    if max_recipients < 1:
        raise ValueError("max_recipients must be at least 1")
    with fewer_collections():
        return _plan(runtime, edition, run, renderer=renderer, selector=selector, subscriber_ids=subscriber_ids,
                     max_recipients=max_recipients, chunk_size=chunk_size, render_processes=render_processes)


def _plan(runtime: Runtime, edition: Edition, run: EditionRun, *, renderer, selector, subscriber_ids,
          max_recipients: int, chunk_size: int, render_processes) -> PlanSummary:
    config = runtime.settings.config
    dry_run, now = run.dry_run, run.now
    summary = PlanSummary(edition.id)
    if not dry_run:  # a run that stopped before recording its readers' last digest
        with runtime.sessions() as session:
            record_last_digests(session)
    with runtime.sessions() as read_session:
        # Before any reader is read: a departure this plan does not see is newer (ledger.departures).
        horizon = plan_horizon(read_session)
        count_outside(read_session, edition.id, subscriber_ids, summary)
        skip_in_flight(read_session, edition.id, subscriber_ids, summary, dry_run=dry_run, due=due_on(edition.date))
        if selector is None:
            from ...select import Selector

            selector = Selector(read_session, config, now)
        writer = BatchWriter(runtime, edition.id, max_recipients, summary, dry_run, plan_xmin=horizon)
        if render_processes is None:
            render_processes = runtime.settings.render_processes
        bodies = EditionBodies(config=config, renderer=renderer, processes=render_processes, big=run.big)
        writer.bodies = bodies
        skip_empty = config.selection.nothing_new == "skip"
        try:
            for chunk in active_unplanned(runtime, edition.id, subscriber_ids, chunk_size, due=due_on(edition.date)):
                _select_chunk(chunk, edition, selector, bodies, writer, summary, skip_empty=skip_empty)
                writer.flush(final=False)
            writer.flush(final=True)
        finally:
            writer.close()
            bodies.close()
        summary.bodies_rendered = bodies.renders
        summary.render_seconds = bodies.render_seconds
        summary.render_cpu_seconds = bodies.render_cpu_seconds
        summary.render_problems.note_cleaned(getattr(selector, "cleaned", ()))  # the real selector's
        if summary.render_problems:
            summary.render_problems.name_items(read_session)
            for line in summary.render_problems.lines() + summary.render_problems.cleaned_lines():
                log.info("edition %s: %s", edition.date, line)
        read_session.rollback()
    return summary


_BLOCKED = object()  # the answer for readers whose selection is blocked
_SKIPPED = object()  # ... and for those who get nothing new, when nothing_new = "skip"


def _select_chunk(chunk: list["SubscriberRow"], edition, selector, bodies, writer, summary, *,
                  skip_empty: bool) -> None:
    """Each reader of the chunk to the selection they get (its render started when it is
    new), or to the skipped or blocked. A :class:`ReaderSelector` (the real one) is asked
    once per distinct (topics, last digest) in the chunk: most readers of a big list share
    both (the first edition, everyone's first; later ones, the readers of one batch), and a
    million readers come through here. Any other selector is asked for each reader."""
    from ...select import SelectionBlocked

    by_reader = isinstance(selector, ReaderSelector)
    answers: dict[tuple, object] = {}  # per chunk, so bounded by its size
    selected = writer.selected
    blocked = 0
    for row in chunk:
        subscriber_id, _email, _zone, _send_hour, last_digest_at, slugs = row
        key = (slugs, last_digest_at)
        answer = answers.get(key) if by_reader else None
        if answer is None:
            try:
                if by_reader:
                    selection = selector.for_reader(slugs, last_digest_at, edition.date)
                else:
                    selection = selector.for_subscriber(PlannedSubscriber(*row), edition.date)
            except SelectionBlocked as exc:
                summary.blocked_reason = summary.blocked_reason or str(exc)
                answer = _BLOCKED
            else:
                if selection.is_empty and skip_empty:
                    answer = _SKIPPED
                else:
                    answer = selection.fingerprint()  # computed once per selection object
                    bodies.submit(answer, selection)
            if by_reader:
                answers[key] = answer
        if answer is _BLOCKED:
            blocked += 1
        elif answer is _SKIPPED:
            writer.skips.append(subscriber_id)
        else:
            selected[answer].append(subscriber_id)
    summary.skipped[SkipReason.BLOCKED] += blocked
