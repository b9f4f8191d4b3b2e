"""When a batch's emails were built: the one thing about a sent email that cannot be
computed again from the ledger (its Date header, and the heading's date in each reader's
zone). Each claim that builds a batch's emails appends its time to
``batches.send_moments`` in the claim's own UPDATE (and the provider's name to
``batches.provider``: :data:`CLAIM_MOMENT`, used by
:func:`~digest.deliver.ledger.claims.claim_batch`), before anything is sent: one short
string per batch, nothing per reader, and no statement of its own. ``digest audit`` reads
it back (:func:`moment_for`).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import bindparam, func

from ..models import Batch

_batches = Batch.__table__
#: The claim's values that record its moment: its time appended (to the microsecond: see
#: :func:`moment_for`) and the provider named; bound by :func:`moment_params`.
CLAIM_MOMENT = {"send_moments": func.coalesce(_batches.c.send_moments + " ", "") + bindparam("m_at"),
                "provider": bindparam("m_provider")}


def send_moment(claimed_at: datetime) -> datetime:
    """The moment the emails of a claim at ``claimed_at`` carry: UTC, to the second (a
    Date header's precision)."""
    return claimed_at.astimezone(timezone.utc).replace(microsecond=0)


def moment_params(claimed_at: datetime, provider: str) -> dict[str, str]:
    """:data:`CLAIM_MOMENT`'s parameters for a claim at ``claimed_at`` sending to ``provider``."""
    return {"m_at": claimed_at.astimezone(timezone.utc).isoformat(), "m_provider": provider[:20]}


def claims(stored: str | None) -> list[datetime]:
    """The claims' times a batch recorded, oldest first (a claim run again after a lost
    connection may have recorded its time twice: once here)."""
    return sorted({datetime.fromisoformat(part) for part in (stored or "").split()})


def moment_for(stored: str | None, sent_at: datetime | None) -> datetime | None:
    """The moment (:func:`send_moment`) a reader's email carries: that of the batch's last
    claim at or before the reader's ``sent_at`` (settled after their claim, by the same
    clock; a later claim only resent readers not sent before it, and was made after that
    settlement); the last claim's when ``sent_at`` is unknown; ``None`` when the batch
    recorded none (sent before claims were recorded)."""
    recorded = claims(stored)
    if not recorded:
        return None
    if sent_at is None:
        return send_moment(recorded[-1])
    earlier = [m for m in recorded if m <= sent_at]
    return send_moment(earlier[-1] if earlier else recorded[0])
