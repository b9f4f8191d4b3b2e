"""What SendGrid's events mean for a subscriber, and recording them exactly once.

Which events suppress an address (decided here, in one table):

* ``bounce`` -> bounced, unless its ``type`` is ``blocked``: a block is the receiving
  server refusing for now (reputation, rate), not a dead address, so it is only stored.
* ``dropped`` -> depends on SendGrid's ``reason``. SendGrid drops a message without trying
  it when the address is on one of *its* suppression lists; we mirror that list so the
  address leaves ours too: "Bounced Address" and "Invalid" -> bounced, "Spam Reporting
  Address" -> complained, "Unsubscribed Address" -> unsubscribed. Other reasons
  ("Spam Content", "Invalid SMTPAPI header", quota) are about the message or the
  account, not the address, and are only stored.
* ``spamreport`` -> complained.
* ``unsubscribe`` and ``group_unsubscribe`` -> unsubscribed.
* anything else (processed, delivered, deferred, open, click, ...) is stored only.

Every event is stored (payload kept whole, ``custom_args`` with edition and batch ids
included) under ``(provider, sg_event_id)``, which is unique: a repeat, whether SendGrid
retrying a post or the same id twice in one post, changes nothing. A post is one
transaction (a thousand events cost one commit, not a thousand), counted into the
report's figures in it (:func:`digest.report.counting.count_events`): a post that fails
changes nothing and is safe to retry; one that meets an event a concurrent post has just
committed is run again, and finds it already there.

Each event is also tied to the delivery it concerns, and settles it when that delivery
is ambiguous (:mod:`digest.deliver.ledger.settlement`): a few statements per post (ids, ties and
rows handled a thousand at a time), so the request stays fast; waiting and resending are the worker's job, never this request's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..deliver.ledger.settlement import event_time, settle_delivery, tie_events
from ..models import ProviderEvent, Subscriber, SubscriberStatus, utcnow
from ..report.counting import count_events
from ..runtime import Runtime
from ..suppression import suppress

log = logging.getLogger(__name__)

PROVIDER = "sendgrid"

DROPPED_REASONS = {
    "bounced address": SubscriberStatus.BOUNCED,
    "invalid": SubscriberStatus.BOUNCED,
    "spam reporting address": SubscriberStatus.COMPLAINED,
    "unsubscribed address": SubscriberStatus.UNSUBSCRIBED,
}


def suppression_for(event: dict[str, Any]) -> str | None:
    """The subscriber status an event moves to, or None when it is only recorded."""
    kind = str(event.get("event", "")).lower()
    if kind == "bounce":
        return None if str(event.get("type", "")).lower() == "blocked" else SubscriberStatus.BOUNCED
    if kind == "dropped":
        return DROPPED_REASONS.get(str(event.get("reason", "")).strip().lower())
    if kind == "spamreport":
        return SubscriberStatus.COMPLAINED
    if kind in ("unsubscribe", "group_unsubscribe"):
        return SubscriberStatus.UNSUBSCRIBED
    return None


#: The ``event_id`` column's width: a longer ``sg_event_id`` is kept as its hash, whole,
#: never cut (two ids sharing their first 200 characters are two events).
EVENT_ID_COLUMN = 200


def event_id(event: dict[str, Any]) -> str:
    """SendGrid's ``sg_event_id`` (a hash of it when too long for the column); for an
    event without one, a hash of its content."""
    given = event.get("sg_event_id")
    if isinstance(given, str) and given:
        if len(given) <= EVENT_ID_COLUMN:
            return given
        return "sg-sha256:" + hashlib.sha256(given.encode("utf-8", "surrogatepass")).hexdigest()
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def record_events(runtime: Runtime, events: list[Any]) -> Counter[str]:
    """Store each event once and apply its suppression. Returns counts for the log."""
    for attempt in range(1, POST_ATTEMPTS + 1):
        try:
            with runtime.session() as session:
                return _record_post(session, events)
        except IntegrityError:  # an id of this post committed by a concurrent request
            if attempt == POST_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


#: A post meeting ids a concurrent post committed is run again (it then finds them).
POST_ATTEMPTS = 3


def _record_post(session: Session, events: list[Any]) -> Counter[str]:
    """The post in a few statements, not a few per event: ids looked up together, the new
    events tied to their deliveries together and inserted with one statement; then, in
    order, the few that settle an ambiguous delivery or suppress an address."""
    counts: Counter[str] = Counter()
    valid = [event for event in events if isinstance(event, dict)]
    counts["malformed"] += len(events) - len(valid)
    known = _known_ids(session, [event_id(event) for event in valid])
    fresh: list[tuple[dict[str, Any], str]] = []
    for event in valid:
        eid = event_id(event)
        if eid in known:
            counts["repeat"] += 1
            continue
        known.add(eid)
        fresh.append((event, eid))
    if not fresh:
        return counts
    ties = tie_events(session, [event for event, _ in fresh])
    session.execute(insert(ProviderEvent), [
        {"provider": PROVIDER, "event_id": eid, "event": str(event.get("event", ""))[:40],
         "email": _email(event)[:320] if _email(event) else None, "payload": event, "delivery_id": delivery_id,
         "received_at": utcnow()}
        for (event, eid), (delivery_id, _) in zip(fresh, ties)
    ])  # a concurrent post's committed duplicate fails here, before any status moves
    for (event, eid), (delivery_id, ambiguous) in zip(fresh, ties):
        settled = ambiguous and settle_delivery(session, delivery_id, str(event.get("event", ""))[:40].lower(), eid,
                                                at=event_time(event))
        counts[_suppress_for(session, event)] += 1
        counts["settled"] += settled
    count_events(session, [event for event, _ in fresh])
    return counts


def _known_ids(session: Session, ids: list[str]) -> set[str]:
    unique = sorted(set(ids))
    known: set[str] = set()
    for start in range(0, len(unique), 1000):
        known.update(session.scalars(select(ProviderEvent.event_id).where(
            ProviderEvent.provider == PROVIDER, ProviderEvent.event_id.in_(unique[start:start + 1000]))))
    return known


def _email(event: dict[str, Any]) -> str | None:
    email = event.get("email")
    return email if isinstance(email, str) and email else None


def _suppress_for(session: Session, event: dict[str, Any]) -> str:
    """What a newly stored event did to its subscriber."""
    status, email = suppression_for(event), _email(event)
    if status is None or not email:
        return "stored"
    subscriber = _find_subscriber(session, email)
    if subscriber is None:
        return "unknown-address"
    if suppress(subscriber, status):
        log.info("subscriber %s %s (sendgrid %s event)", subscriber.id, status, event.get("event"))
        return "suppressed"
    return "already-suppressed"


def _find_subscriber(session: Session, email: str) -> Subscriber | None:
    email = email.strip()
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if subscriber is None:
        subscriber = session.scalar(
            select(Subscriber).where(func.lower(Subscriber.email) == email.lower()).limit(1)
        )
    return subscriber
