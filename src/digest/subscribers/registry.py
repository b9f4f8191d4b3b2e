"""Subscriber rows: validation, normalisation and the status rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..errors import DigestError
from ..models import Subscriber, SubscriberStatus, Topic
from .cadence import Cadence, apply_cadence, current_cadence


class SubscriberError(DigestError):
    """A value that cannot be stored for a subscriber (bad address, topic, zone, hour)."""


class AlreadySuppressed(SubscriberError):
    """The address unsubscribed, bounced or complained; it is not resubscribed implicitly."""


def normalise_email(text: str) -> str:
    """Syntax-checked (no DNS lookups) and normalised; lower-cased whole, since mailbox
    providers treat the local part case-insensitively and one person must be one row."""
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise SubscriberError(f"invalid email address {text!r}: {exc}") from None


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriberError(f"unknown time zone {name!r} (use an IANA name like America/New_York)") from None
    return name


def check_send_hour(value: int | str) -> int:
    try:
        hour = int(value)
    except (TypeError, ValueError):
        raise SubscriberError(f"send hour must be a whole number 0-23, got {value!r}") from None
    if not 0 <= hour <= 23:
        raise SubscriberError(f"send hour must be 0-23, got {hour}")
    return hour


@dataclass(frozen=True)
class SubscriberData:
    """Validated values for one subscriber (as imported or added)."""

    email: str
    topics: tuple[str, ...]
    timezone: str
    send_hour: int
    consent_source: str | None = None
    consented_at: datetime | None = None
    #: Only from an import that carries a ``status`` column (e.g. a list moved from
    #: another service): a suppressed status is kept, never turned back to active.
    status: str = SubscriberStatus.ACTIVE
    #: Frequency and pause (:mod:`.cadence`); None: not given (a new row is daily, not
    #: paused; an existing one keeps its own).
    cadence: Cadence | None = None


def find_topics(session: Session, slugs: Sequence[str]) -> list[Topic]:
    found = {t.slug: t for t in session.scalars(select(Topic).where(Topic.slug.in_(list(slugs))))}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise SubscriberError(f"unknown topic(s) {', '.join(unknown)}")
    return [found[s] for s in slugs]


def find(session: Session, email: str) -> Subscriber | None:
    return session.scalars(
        select(Subscriber).where(Subscriber.email == email).options(selectinload(Subscriber.topics))
    ).one_or_none()


def upsert_subscriber(session: Session, data: SubscriberData, *, now: datetime | None = None) -> str:
    """Create or update; returns ``created``, ``updated``, ``unchanged`` or ``suppressed``
    (an existing unsubscribed/bounced/complained row is left exactly as it is).

    ``data.status`` other than active suppresses: a new row is created suppressed, an
    active one becomes suppressed (counted ``updated``).
    """
    now = now or datetime.now(timezone.utc)
    row = find(session, data.email)
    topics = find_topics(session, data.topics)
    if row is None:
        row = Subscriber(
            email=data.email, status=data.status, timezone=data.timezone, send_hour=data.send_hour,
            consent_source=data.consent_source, consented_at=data.consented_at, topics=topics,
            status_changed_at=now, created_at=now, updated_at=now,
        )
        apply_cadence(row, data.cadence or Cadence(), now)
        session.add(row)
        session.flush()
        return "created"
    if row.status != SubscriberStatus.ACTIVE:
        return "suppressed"
    before = (row.topic_slugs, row.timezone, row.send_hour, row.consent_source, row.consented_at, row.status,
              current_cadence(row, now))
    if data.status != SubscriberStatus.ACTIVE:
        row.status, row.status_changed_at = data.status, now
    row.topics = sorted(topics, key=lambda t: t.slug)
    row.timezone, row.send_hour = data.timezone, data.send_hour
    if data.consent_source is not None:
        row.consent_source = data.consent_source
    if data.consented_at is not None:
        row.consented_at = data.consented_at
    apply_cadence(row, data.cadence or current_cadence(row, now), now)  # after the zone and hour: a pause's window uses them
    after = (row.topic_slugs, row.timezone, row.send_hour, row.consent_source, row.consented_at, row.status,
             current_cadence(row, now))
    if before == after:
        return "unchanged"
    row.updated_at = now
    session.flush()
    return "updated"


def add_subscriber(session: Session, data: SubscriberData, *, resubscribe: bool = False,
                   now: datetime | None = None) -> str:
    """Like :func:`upsert_subscriber`, but a suppressed address is an error unless
    ``resubscribe`` (the person asked again, with fresh consent)."""
    now = now or datetime.now(timezone.utc)
    row = find(session, data.email)
    if row is not None and row.status != SubscriberStatus.ACTIVE:
        if not resubscribe:
            raise AlreadySuppressed(f"{data.email} is {row.status}; it is only resubscribed with --resubscribe "
                                    "(when the person has asked again)")
        row.status, row.status_changed_at = SubscriberStatus.ACTIVE, now
        session.flush()
        upsert_subscriber(session, data, now=now)
        return "resubscribed"
    return upsert_subscriber(session, data, now=now)


def remove_subscriber(session: Session, email: str, *, now: datetime | None = None) -> str:
    """Mark unsubscribed, keeping the row so the address stays suppressed. Returns the
    previous status."""
    row = find(session, normalise_email(email))
    if row is None:
        raise SubscriberError(f"no subscriber {email!r}")
    previous = row.status
    if previous == SubscriberStatus.ACTIVE:
        row.status = SubscriberStatus.UNSUBSCRIBED
        row.status_changed_at = row.updated_at = now or datetime.now(timezone.utc)
        session.flush()
    return previous


def iter_subscribers(session: Session, status: str | None = None, chunk_size: int = 1000) -> Iterator[Subscriber]:
    """Every subscriber (optionally of one status) in id order, a chunk at a time."""
    if status is not None and status not in SubscriberStatus.ALL:
        raise SubscriberError(f"status must be one of {', '.join(SubscriberStatus.ALL)}, got {status!r}")
    query = select(Subscriber).options(selectinload(Subscriber.topics)).order_by(Subscriber.id)
    if status is not None:
        query = query.where(Subscriber.status == status)
    last_id = 0
    while True:
        chunk = list(session.scalars(query.where(Subscriber.id > last_id).limit(chunk_size)))
        yield from chunk
        if len(chunk) < chunk_size:
            return
        last_id = chunk[-1].id
