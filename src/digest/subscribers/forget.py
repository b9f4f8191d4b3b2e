"""Forgetting a reader (GDPR's right to erasure): ``digest subscribers forget EMAIL``.

Their row, topics, consent records, ledger rows, the provider events about them and the
marks of which report figures they count in (``reader_figures``) are deleted; what stays is an HMAC of the address keyed with ``DIGEST_SECRET_KEY``
(``forgotten_addresses``), which cannot be turned back into the address but lets an import
of the same address be refused, so an old list never mails them again by accident. A new
signup of theirs starts fresh (it is their own new consent). Edition totals already counted
keep their numbers: they hold no address.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..deliver.ledger.erasure import erase_deliveries, erasing_readers
from ..deliver.ledger.reader_rows import in_any_edition
from ..models import ConsentRecord, Delivery, ForgottenAddress, ProviderEvent, ReaderFigure, utcnow
from .registry import SubscriberError, find, normalise_email


def address_hash(secret: str, email: str) -> str:
    """``email`` must be canonical (:func:`~digest.subscribers.registry.normalise_email`)."""
    return hmac.new(secret.encode(), email.encode(), hashlib.sha256).hexdigest()


def is_forgotten(session: Session, secret: str, email: str) -> bool:
    return session.get(ForgottenAddress, address_hash(secret, email)) is not None


def forget(session: Session, secret: str, email: str, *, now: datetime | None = None) -> None:
    """Erase the reader of ``email``; SubscriberError when it is not on the list. The
    caller's session commits."""
    address = normalise_email(email)
    subscriber = find(session, address)
    if subscriber is None:
        raise SubscriberError(f"no subscriber {email!r}")
    erasing_readers(session)  # no planner is writing rows meanwhile (digest.deliver.ledger.erasure)
    delivery_ids = list(session.scalars(select(Delivery.id).where(
        in_any_edition(session), Delivery.subscriber_id == subscriber.id)))
    about = ProviderEvent.email == address
    if delivery_ids:
        about = or_(about, ProviderEvent.delivery_id.in_(delivery_ids))
    session.execute(delete(ProviderEvent).where(about))
    erase_deliveries(session, [subscriber.id])
    session.execute(delete(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber.id))
    session.execute(delete(ReaderFigure).where(ReaderFigure.subscriber_id == subscriber.id))
    session.delete(subscriber)
    hashed = address_hash(secret, address)
    if session.get(ForgottenAddress, hashed) is None:
        session.add(ForgottenAddress(address_hash=hashed, forgotten_at=now or utcnow()))
    session.flush()
