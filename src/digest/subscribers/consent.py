"""Consent records: one row per consent event (:class:`~digest.models.ConsentRecord`).

The web process knows who asked (client address behind trusted proxies, user agent),
from where (the page or origin of the form, or ``api``) and what they were shown; it
passes that as :class:`Evidence`, and the subscriber modules write it with the change
of status it proves, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ConsentRecord, utcnow


@dataclass(frozen=True)
class Evidence:
    client_ip: str | None = None
    user_agent: str | None = None
    source: str | None = None
    wording: str | None = None


def record_consent(session: Session, subscriber_id: int, event: str, evidence: Evidence, *,
                   at: datetime | None = None) -> ConsentRecord:
    """Add the row (cut to the columns' sizes: a long user agent is still recorded)."""
    row = ConsentRecord(
        subscriber_id=subscriber_id, event=event, at=at or utcnow(),
        client_ip=(evidence.client_ip or None) and evidence.client_ip[:45],
        user_agent=(evidence.user_agent or None) and evidence.user_agent[:500],
        source=(evidence.source or None) and evidence.source[:500],
        wording=evidence.wording,
    )
    session.add(row)
    session.flush()
    return row


def consent_history(session: Session, subscriber_id: int) -> list[ConsentRecord]:
    return list(session.scalars(select(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber_id)
                                .order_by(ConsentRecord.at, ConsentRecord.id)))
