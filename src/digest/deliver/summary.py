"""What one ``send_edition`` run did, and how it is shown to an operator."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from ..models import BatchStatus
from .planning import SkipReason
from .sending import NOT_CLAIMED, BatchOutcome


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
    batches: Counter = field(default_factory=Counter)  # this run: BatchStatus -> batches
    recovered: list[int] = field(default_factory=list)  # stale batches marked ambiguous
    reset: list[int] = field(default_factory=list)  # ambiguous batches put back by the operator
    outstanding: Counter = field(default_factory=Counter)  # whole edition: failed/ambiguous batches
    blocked_reason: str | None = None
    stopped_early: bool = False

    def add(self, outcome: BatchOutcome) -> None:
        self.batches[outcome.status] += 1
        self.sent += outcome.sent
        self.failed += outcome.failed
        self.ambiguous += outcome.ambiguous
        self.skipped[SkipReason.SUPPRESSED] += outcome.suppressed

    @property
    def ok(self) -> bool:
        """No batch of this edition is failed or ambiguous, and nothing was blocked."""
        return not (self.outstanding[BatchStatus.FAILED] or self.outstanding[BatchStatus.AMBIGUOUS]
                    or self.failed or self.ambiguous or self.skipped[SkipReason.BLOCKED])

    def problems(self) -> list[str]:
        lines = []
        if self.outstanding[BatchStatus.AMBIGUOUS]:
            lines.append(
                f"{self.outstanding[BatchStatus.AMBIGUOUS]} batch(es) are ambiguous: they may or may not "
                "have been delivered. Check the provider's activity log; resend them with "
                "'digest send --resend-ambiguous' only if they did not go out."
            )
        if self.outstanding[BatchStatus.FAILED]:
            lines.append(f"{self.outstanding[BatchStatus.FAILED]} batch(es) failed; see 'error' on those batches "
                         "and resend them with 'digest send --retry-failed'.")
        if self.failed and not self.outstanding[BatchStatus.FAILED]:
            lines.append(f"{self.failed} recipient(s) were refused by the provider.")
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
    rows += [(f"skipped: {reason}", summary.skipped[reason]) for reason in SkipReason.ALL]
    rows.append(("bodies rendered", summary.bodies_rendered))
    batches = ", ".join(f"{count} {status}" for status, count in sorted(summary.batches.items()) if status != NOT_CLAIMED)
    if summary.batches[NOT_CLAIMED]:
        batches += f" ({summary.batches[NOT_CLAIMED]} taken by another worker)"
    rows.append(("batches" if not summary.dry_run else "batches planned", batches or "0"))
    width = max(len(label) for label, _ in rows)
    lines = [title] + [f"  {label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)
