"""Everything kept about one reader, as one JSON document (GDPR's right of access):
``digest subscribers export EMAIL``.

Their row, topics, consent records, ledger rows and the provider events about them (by
address, or tied to one of their deliveries). Every column is included as stored, so a
column added later is exported without a change here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session

from ..deliver.ledger.reader_rows import in_any_edition
from ..models import Delivery, ProviderEvent, Subscriber
from .consent import consent_history
from .registry import find, normalise_email


def _columns(row: Any) -> dict[str, Any]:
    values = {}
    for attribute in inspect(row).mapper.column_attrs:
        value = getattr(row, attribute.key)
        values[attribute.key] = value.isoformat() if isinstance(value, (date, datetime)) else value
    return values


def personal_data(session: Session, email: str) -> dict[str, Any] | None:
    """The reader's data, or None when the address is not on the list (raises
    SubscriberError for an address that is not one)."""
    subscriber: Subscriber | None = find(session, normalise_email(email))
    if subscriber is None:
        return None
    deliveries = list(session.scalars(select(Delivery).where(
        in_any_edition(session), Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)))
    delivery_ids = [d.id for d in deliveries]
    about = ProviderEvent.email == subscriber.email
    if delivery_ids:
        about = or_(about, ProviderEvent.delivery_id.in_(delivery_ids))
    events = session.scalars(select(ProviderEvent).where(about).order_by(ProviderEvent.id))
    return {
        "profile": _columns(subscriber),
        "topics": subscriber.topic_slugs,
        "consent_records": [_columns(r) for r in consent_history(session, subscriber.id)],
        "deliveries": [_columns(d) for d in deliveries],
        "provider_events": [_columns(e) for e in events],
    }
