"""A reader signs up on the web: what was posted, checked, and what it does to the list.

Double opt-in: a new address is stored ``pending`` (never sent a digest) and is sent a
confirmation email (:mod:`digest.subscribers.confirmation`); only that link's page makes it
``active``. What an address already on the list gets (answered alike, so the form never
tells a stranger who is subscribed):

* ``pending``: its choices are replaced by the new ones and the confirmation is sent again;
* ``active``: nothing changes and nothing is sent;
* ``unsubscribed`` or ``complained`` (a spam report): a fresh confirmation ("again");
  nothing changes until its page is posted, which only the mailbox's owner can do;
* ``bounced``: refused, with a message asking for another address.

How often an email may go to one address is the web layer's rate limit, not this module's.
An address left pending for :data:`PENDING_DAYS` is forgotten (:func:`purge_pending`, run
by the worker): nobody confirmed wanting anything, so nothing about it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..deliver.ledger.erasure import erase_deliveries, erasing_readers
from ..models import ConsentRecord, Subscriber, SubscriberStatus, utcnow
from ..settings import PublicationConfig
from .registry import SubscriberError, check_send_hour, check_timezone, find, find_topics, normalise_email


PENDING_DAYS = 30


class InvalidSignup(SubscriberError):
    """A posted field that cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Signup:
    email: str  # canonical (see :func:`~digest.subscribers.registry.normalise_email`)
    topics: tuple[str, ...]
    timezone: str
    send_hour: int


@dataclass(frozen=True)
class SignupResult:
    #: ``new``, ``pending``, ``returning`` (was unsubscribed or complained), ``active``, ``bounced``
    outcome: str
    subscriber_id: int

    @property
    def sends_confirmation(self) -> bool:
        return self.outcome in ("new", "pending", "returning")


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    if value is None:
        return ""
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return str(value).strip()
    raise InvalidSignup(name, f"{name}: expected text, got {type(value).__name__}.")


def _topic_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidSignup("topics", "topics: expected a list of topic names.")


def read_signup(values: Mapping[str, Any], topics: Sequence[str], config: PublicationConfig) -> Signup:
    """Check what was posted (``topics`` given apart: a form repeats the field, JSON sends
    a list). Empty zone and hour take the config's defaults. Raises :class:`InvalidSignup`."""
    address = _text(values, "email")
    if not address:
        raise InvalidSignup("email", "Enter your email address.")
    try:
        email = normalise_email(address)
    except SubscriberError:
        raise InvalidSignup("email", f"{address!r} is not a valid email address.") from None
    chosen = set(_topic_list(topics))
    unknown = sorted(chosen - set(config.topic_slugs))
    if unknown:
        raise InvalidSignup("topics", f"Unknown topic(s): {', '.join(unknown)}.")
    if not chosen:
        raise InvalidSignup("topics", "Choose at least one topic.")
    zone = _text(values, "timezone") or config.schedule.default_timezone
    hour = _text(values, "send_hour") or str(config.schedule.default_send_hour)
    try:
        zone = check_timezone(zone)
    except SubscriberError:
        raise InvalidSignup("timezone", f"Unknown time zone {zone!r}: choose one from the list.") from None
    try:
        send_hour = check_send_hour(hour)
    except SubscriberError:
        raise InvalidSignup("send_hour", "The send hour must be a whole number from 0 to 23.") from None
    ordered = tuple(slug for slug in config.topic_slugs if slug in chosen)
    return Signup(email, ordered, zone, send_hour)


def sign_up(session: Session, signup: Signup, *, now: datetime | None = None) -> SignupResult:
    """Store ``signup`` as the module docstring says; the caller's session commits (and
    must, before the confirmation is sent: its link names the row)."""
    now = now or utcnow()
    row = find(session, signup.email)
    if row is None:
        row = Subscriber(email=signup.email, status=SubscriberStatus.PENDING, status_changed_at=now,
                         created_at=now, updated_at=now)
        _choose(session, row, signup)
        session.add(row)
        session.flush()
        return SignupResult("new", row.id)
    if row.status == SubscriberStatus.PENDING:
        _choose(session, row, signup)
        row.updated_at = now
        session.flush()
        return SignupResult("pending", row.id)
    if row.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.COMPLAINED):
        return SignupResult("returning", row.id)
    return SignupResult(row.status, row.id)


def _choose(session: Session, row: Subscriber, signup: Signup) -> None:
    row.topics = find_topics(session, signup.topics)
    row.timezone, row.send_hour = signup.timezone, signup.send_hour


def purge_pending(session: Session, *, now: datetime | None = None, days: int = PENDING_DAYS) -> int:
    """Delete the subscribers pending (never confirmed) for ``days``, with their topics,
    consent records and any ledger rows (:mod:`digest.deliver.ledger.erasure`); returns
    how many. The caller's session commits."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    stale = list(session.scalars(select(Subscriber).where(
        Subscriber.status == SubscriberStatus.PENDING, Subscriber.status_changed_at < cutoff)))
    if stale:
        erasing_readers(session)
        erase_deliveries(session, [s.id for s in stale])
        session.execute(delete(ConsentRecord).where(ConsentRecord.subscriber_id.in_([s.id for s in stale])))
        for subscriber in stale:
            session.delete(subscriber)
        session.flush()
    return len(stale)
