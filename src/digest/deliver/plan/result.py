"""What a plan reports: how many readers it queued in how many batches, the bodies it
rendered, and each reader it skipped, with the reason (:class:`SkipReason`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..ledger.in_flight import IN_FLIGHT
from .render_failures import RENDER_FAILED, RenderProblems


class SkipReason:
    SUPPRESSED = "suppressed"  # unsubscribed, bounced or complained
    NO_NEW_ITEMS = "no-new-items"  # nothing in their topics, and nothing_new = "skip"
    ALREADY_SENT = "already-sent"  # already in this edition's ledger
    BLOCKED = "blocked"  # strict mode: an item lacks its disclosures
    RENDER_FAILED = RENDER_FAILED  # their body failed to render, even without the items that broke it
    IN_FLIGHT = IN_FLIGHT  # a delivery in another edition is queued, being sent or ambiguous
    ALL = (SUPPRESSED, NO_NEW_ITEMS, ALREADY_SENT, BLOCKED, RENDER_FAILED, IN_FLIGHT)



@dataclass
class PlanSummary:
    edition_id: int | None
    queued: int = 0  # delivery rows written (or, in a dry run, that would be)
    batches: int = 0
    bodies_rendered: int = 0  # renders done: one per distinct selection
    render_seconds: float = 0.0  # time spent rendering, summed over the processes that did it
    render_cpu_seconds: float = 0.0  # CPU time of the same renders
    skipped: Counter = field(default_factory=Counter)  # SkipReason -> subscribers
    blocked_reason: str | None = None  # the first SelectionBlocked message
    render_problems: RenderProblems = field(default_factory=RenderProblems)  # items left out, bodies failed


