"""Planning an edition: who gets which body, written to the ledger before anything is sent.

:mod:`.planner` (the steps, :func:`plan_edition`) reads the readers a plan considers
(:mod:`.readers`), asks selection for each one's items, renders every distinct selection
once (:mod:`.bodies`, in worker processes for a big edition; what rendering could not do
in :mod:`.render_failures`), and writes full batches while it goes on (:mod:`.writer`,
with the ledger rows of :mod:`.rows`). What it reports: :mod:`.result`. What a dry run
adds from batches that already exist: :mod:`.dry_run`.
"""

from .bodies import BodyRenderer
from .planner import plan_edition
from .readers import PlannedSubscriber, ReaderSelector, SubscriberSelector
from .result import PlanSummary, SkipReason

__all__ = ["BodyRenderer", "PlanSummary", "PlannedSubscriber", "ReaderSelector", "SkipReason", "SubscriberSelector",
           "plan_edition"]
