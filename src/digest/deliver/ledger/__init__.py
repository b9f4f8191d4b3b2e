"""The delivery ledger: editions, batch claims and outcomes.

Every state change here is a conditional UPDATE whose row count says whether it
happened, committed at once, so two processes (or a process and its own restart) can
never both believe they own a batch:

    pending --claim--> sending --settle--> sent | failed | ambiguous
                          \\--recover (owner gone)--> ambiguous

A batch whose owner vanished between claim and settle may or may not have reached the
provider, so it becomes ``ambiguous`` and is only resent when an operator asks
(``digest send --resend-ambiguous``: :func:`reset_batches`).

Each reader's own outcome is on their delivery row: a batch that went out may still hold
readers the provider refused (``failed``) or whose message may or may not have left
(``ambiguous``). :func:`reset_batches` puts those readers back in the queue one by one,
whatever their batch's status.

Claim and settle can each be run again after a lost database connection
(:class:`.connection.LedgerConnection`): a claim recognises its own earlier
success by its time stamp, a settlement by the batch already holding its outcome.

Modules: :mod:`.editions`, :mod:`.claimant` (who holds a claim), :mod:`.claims` (claim,
settle, release), :mod:`.recovery` (stale claims, operator resets), :mod:`.last_digest`,
:mod:`.in_flight` (one edition in flight per reader), :mod:`.settlement` (ambiguous
readers settled from provider events), :mod:`.connection` (a step run again on a lost
connection).
"""

from .claimant import DEFAULT_LEASE, Claimant, claim_is_stale, worker_identity
from .claims import ClaimedBatch, Settlement, claim_batch, release_batch, settle_batch
from .editions import find_edition, get_or_create_edition, insert_for, pending_batch_ids
from .last_digest import record_last_digests
from .recovery import recover_stale_batches, reset_batches, resettable_readers

__all__ = [
    "DEFAULT_LEASE", "Claimant", "ClaimedBatch", "Settlement", "claim_batch", "claim_is_stale", "find_edition",
    "get_or_create_edition", "insert_for", "pending_batch_ids", "record_last_digests", "recover_stale_batches",
    "release_batch", "reset_batches", "resettable_readers", "settle_batch", "worker_identity",
]
