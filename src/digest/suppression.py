"""Moving a subscriber between sending and not sending.

Only an ``active`` subscriber is ever sent to. The ways out are ordered by how strongly
they forbid sending again::

    active < unsubscribed < bounced < complained

:func:`suppress` only ever moves a subscriber *up* that order, so a late or repeated
provider event can never undo a stronger one (a spam complaint that arrives after an
unsubscribe still stops sending). :func:`resubscribe` is the one way back, and only by a
confirmation email's link (the mailbox owner's own POST), from ``unsubscribed`` or
``complained`` (issue 20: "only a fresh confirmation brings it back"), or ``pending`` (a
web signup not yet confirmed, which ranks with ``active`` since it was never an opt-out).
An address that bounced cannot confirm anything, so it needs an operator.
"""

from __future__ import annotations

from datetime import datetime

from .models import Subscriber, SubscriberStatus, utcnow

_RANK = {
    SubscriberStatus.ACTIVE: 0,
    SubscriberStatus.PENDING: 0,
    SubscriberStatus.UNSUBSCRIBED: 1,
    SubscriberStatus.BOUNCED: 2,
    SubscriberStatus.COMPLAINED: 3,
}

SUPPRESSED = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


def suppress(subscriber: Subscriber, status: str, *, now: datetime | None = None) -> bool:
    """Stop sending to ``subscriber`` for the reason ``status``.

    Returns True when the status changed, False when it already was as strong or
    stronger (so repeating a suppression is harmless). The caller's session commits.
    """
    if status not in SUPPRESSED:
        raise ValueError(f"cannot suppress with status {status!r}; expected one of {SUPPRESSED}")
    if _RANK.get(subscriber.status, 0) >= _RANK[status]:
        return False
    subscriber.status = status
    subscriber.status_changed_at = now or utcnow()
    return True


def can_resubscribe(subscriber: Subscriber) -> bool:
    """Only people who left (unsubscribed, or reported an email as spam), or signed up and
    have not confirmed yet, may become active on their own (by a confirmation email's link)."""
    return subscriber.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.COMPLAINED, SubscriberStatus.PENDING)


def resubscribe(subscriber: Subscriber, *, now: datetime | None = None) -> bool:
    """Make an unsubscribed, complained (or pending) subscriber active; True when the status
    changed.

    Raises ValueError for a bounced address.
    """
    if subscriber.status == SubscriberStatus.ACTIVE:
        return False
    if not can_resubscribe(subscriber):
        raise ValueError(f"a {subscriber.status} address cannot resubscribe itself")
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.status_changed_at = now or utcnow()
    return True
