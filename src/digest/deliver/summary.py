"""What one ``send_edition`` run did, and how it is shown to an operator.

Every reader of the edition is counted once in every run's summary: what this run did
to them (sent, failed, ambiguous; skipped for a reason it recorded), else where the
ledger already has them (``already-sent``: settled, or skipped, by an earlier or a
concurrent run; ``still queued``: their batch is not settled yet, e.g. another run is
sending it), else ``suppressed`` (no longer subscribed, no row). So sent + failed +
ambiguous + still queued + each skip reason = the readers of the edition, even when two
runs send one edition at once (:meth:`EditionSummary.account`); the run that finishes
last has nothing still queued.

The exit status of ``digest send`` (:attr:`EditionSummary.exit_status`) is read from the
whole edition's ledger, not only this run's work, so every run says so while readers
are owed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, Sequence

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ..models import BatchStatus, Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from .plan import SkipReason
from .plan.render_failures import RenderProblems
from .batch import NOT_CLAIMED, BatchOutcome

#: ``digest send``'s exit statuses (2, a usage or configuration error, is the CLI's).
EXIT_OK = 0  # every reader sent, or skipped for a normal reason
EXIT_OWED = 1  # readers still owed: failed or ambiguous deliveries (or a blocked edition)
EXIT_PARTLY_SENT = 3  # sent, but items were left out of some emails or some readers' email could not be rendered


class Progress(Protocol):
    """Told how many batches are about to be sent, then about each one as it settles."""

    def planned(self, batches: int) -> None: ...

    def batch_done(self, outcome: BatchOutcome) -> None: ...


@dataclass
class EditionSummary:
    edition_date: date
    edition_id: int | None = None
    dry_run: bool = False
    sent: int = 0  # recipients accepted by the provider (dry run: would be sent)
    failed: int = 0  # recipients refused or in failed batches
    ambiguous: int = 0  # recipients in batches that may or may not have gone out
    skipped: Counter = field(default_factory=Counter)  # SkipReason -> subscribers
    bodies_rendered: int = 0
    render_seconds: float = 0.0  # summed over the processes that rendered
    render_cpu_seconds: float = 0.0  # CPU time of the same renders
    batches: Counter = field(default_factory=Counter)  # this run: BatchStatus -> batches
    recovered: list[int] = field(default_factory=list)  # stale batches marked ambiguous
    reset: list[int] = field(default_factory=list)  # ambiguous batches put back by the operator
    outstanding: Counter = field(default_factory=Counter)  # whole edition: failed/ambiguous batches
    blocked_reason: str | None = None
    stopped_early: bool = False
    queued: int = 0  # readers whose batch is not settled yet (another run's in flight, or left pending)
    owed: Counter = field(default_factory=Counter)  # whole edition: readers failed / ambiguous / render-failed
    render_problems: RenderProblems = field(default_factory=RenderProblems)  # this run's renders
    replanned: int = 0  # render-failed readers put back by --retry-failed
    suppressed_at_send: int = 0  # left between planning and sending (rows of batches this run settled)
    halted: str | None = None  # the provider could not go on (refused key, unwritable outbox)

    def add(self, outcome: BatchOutcome) -> None:
        self.batches[outcome.status] += 1
        self.sent += outcome.sent
        self.failed += outcome.failed
        self.ambiguous += outcome.ambiguous
        self.suppressed_at_send += outcome.suppressed
        self.skipped[SkipReason.SUPPRESSED] += outcome.suppressed
        if outcome.halt and self.halted is None:
            self.halted = outcome.halt

    def account(self, ledger: "EditionLedger", *, own_skips: int) -> None:
        """The counts of a finished run, against the edition's ledger as it stands now;
        ``own_skips``: skipped rows this run wrote (no-new-items, render-failed). Rows this
        run neither settled nor wrote nor sees still queued were written, and settled, by
        another run: ``already-sent``."""
        settled = self.sent + self.failed + self.ambiguous + self.suppressed_at_send
        self.queued = ledger.queued
        self.skipped[SkipReason.ALREADY_SENT] = ledger.rows - ledger.queued - settled - own_skips
        self.skipped[SkipReason.SUPPRESSED] = self.suppressed_at_send + ledger.unplanned_inactive
        self.owed = ledger.owed

    @property
    def readers(self) -> int:
        """Everyone this summary counts: the readers of the edition."""
        return self.sent + self.failed + self.ambiguous + self.queued + sum(self.skipped[r] for r in SkipReason.ALL)

    @property
    def exit_status(self) -> int:
        """:data:`EXIT_OWED` while the edition owes readers (failed or ambiguous, in this run
        or any before it), was blocked, or the provider halted it; else :data:`EXIT_PARTLY_SENT` when this run left
        items out or the edition has readers whose email could not be rendered; else
        :data:`EXIT_OK`."""
        if (self.outstanding[BatchStatus.FAILED] or self.outstanding[BatchStatus.AMBIGUOUS] or self.failed
                or self.ambiguous or self.owed[DeliveryStatus.FAILED] or self.owed[DeliveryStatus.AMBIGUOUS]
                or self.skipped[SkipReason.BLOCKED] or self.halted):
            return EXIT_OWED
        if (self.render_problems.partial or self.owed[SkipReason.RENDER_FAILED]
                or self.skipped[SkipReason.RENDER_FAILED]):
            return EXIT_PARTLY_SENT
        return EXIT_OK

    @property
    def ok(self) -> bool:
        """Nothing owed, nothing left out."""
        return self.exit_status == EXIT_OK

    def problems(self) -> list[str]:
        lines = self.render_problems.cleaned_lines() + self.render_problems.lines()
        if self.halted:
            lines.append(f"sending stopped: {self.halted}. The batches not sent stay queued; "
                         "'digest send' sends them once this is fixed.")
        earlier = self.owed[SkipReason.RENDER_FAILED] - self.skipped[SkipReason.RENDER_FAILED]
        if earlier > 0:
            lines.append(f"{earlier} reader(s) of this edition were not sent because their email could not be "
                         f"rendered ({SkipReason.RENDER_FAILED}); 'digest send --retry-failed' sends them once the "
                         "cause is fixed.")
        if self.outstanding[BatchStatus.AMBIGUOUS]:
            lines.append(
                f"{self.outstanding[BatchStatus.AMBIGUOUS]} batch(es) are ambiguous: they may or may not "
                "have been delivered. Check the provider's activity log; resend them with "
                "'digest send --resend-ambiguous' only if they did not go out."
            )
        if self.outstanding[BatchStatus.FAILED]:
            lines.append(f"{self.outstanding[BatchStatus.FAILED]} batch(es) failed; see 'error' on those batches "
                         "and resend them with 'digest send --retry-failed'.")
        refused = max(self.failed, self.owed[DeliveryStatus.FAILED])
        if refused and not self.outstanding[BatchStatus.FAILED]:
            lines.append(f"{refused} recipient(s) of this edition were refused or not taken by the provider (see "
                         "'error' on their delivery rows); 'digest send --retry-failed' sends them again, except "
                         "an address the provider refused for itself, until it has changed.")
        unsure = self.owed[DeliveryStatus.AMBIGUOUS]
        if unsure and not self.outstanding[BatchStatus.AMBIGUOUS]:
            lines.append(f"{unsure} recipient(s) of this edition may or may not have been delivered (ambiguous); "
                         "resend them with 'digest send --resend-ambiguous' only if they did not arrive.")
        if self.recovered:
            lines.append(f"{len(self.recovered)} batch(es) left in flight by a stopped process were marked ambiguous.")
        if self.blocked_reason:
            lines.append(self.blocked_reason)
        if self.stopped_early:
            lines.append("stopped early on request; pending batches are sent by the next run.")
        return lines


def format_summary(summary: EditionSummary) -> str:
    """A small aligned table, one figure per line."""
    title = f"edition {summary.edition_date.isoformat()}" + (" (dry run: nothing sent or recorded)" if summary.dry_run else "")
    sent_label = "would send" if summary.dry_run else "sent"
    rows: list[tuple[str, object]] = [
        (sent_label, summary.sent),
        ("failed", summary.failed),
        ("ambiguous", summary.ambiguous),
    ]
    if not summary.dry_run:
        rows.append(("still queued", summary.queued))
    rows += [(f"skipped: {reason}", summary.skipped[reason]) for reason in SkipReason.ALL]
    rows.append(("bodies rendered", summary.bodies_rendered))
    batches = ", ".join(f"{count} {status}" for status, count in sorted(summary.batches.items()) if status != NOT_CLAIMED)
    if summary.batches[NOT_CLAIMED]:
        batches += f" ({summary.batches[NOT_CLAIMED]} taken by another worker)"
    rows.append(("batches" if not summary.dry_run else "batches planned", batches or "0"))
    width = max(len(label) for label, _ in rows)
    lines = [title] + [f"  {label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class EditionLedger:
    """An edition's ledger at the end of a run (of the chosen subscribers, if any)."""

    rows: int  # delivery rows
    queued: int  # of those, still queued
    owed: Counter  # failed / ambiguous readers, and render-failed (by skip reason)
    unplanned_inactive: int  # subscribers no longer subscribed who have no row


def read_edition_ledger(session: Session, edition_id: int, subscriber_ids: Sequence[int] | None = None) -> EditionLedger:
    """Two counting queries: the edition's rows by status (and skip reason), and the
    subscribers no longer subscribed who have none."""
    wanted = [Delivery.subscriber_id.in_(subscriber_ids)] if subscriber_ids is not None else []
    counts = session.execute(
        select(Delivery.status, Delivery.skip_reason, func.count())
        .where(Delivery.edition_id == edition_id, *wanted)
        .group_by(Delivery.status, Delivery.skip_reason)
    ).all()
    owed: Counter = Counter()
    rows = queued = 0
    for status, reason, count in counts:
        rows += count
        if status == DeliveryStatus.QUEUED:
            queued += count
        elif status in (DeliveryStatus.FAILED, DeliveryStatus.AMBIGUOUS):
            owed[status] += count
        elif reason == SkipReason.RENDER_FAILED:
            owed[reason] += count
    has_row = exists().where(Delivery.subscriber_id == Subscriber.id, Delivery.edition_id == edition_id)
    chosen = [Subscriber.id.in_(subscriber_ids)] if subscriber_ids is not None else []
    inactive = session.scalar(select(func.count()).select_from(Subscriber)
                              .where(Subscriber.status.in_(SubscriberStatus.SUPPRESSED), ~has_row, *chosen)) or 0
    return EditionLedger(rows, queued, owed, inactive)
