"""Guards that protect the sender's reputation: sending stops itself before mailbox
providers stop it.

* **Complaints**: spam complaints over the readers delivered, counted over the last 7
  days of events, above 0.3% (Gmail and Yahoo throttle or refuse bulk senders past it
  since February 2024).
* **Hard bounces**: an edition's hard bounces over the readers whose message had an
  outcome (delivered, bounced, blocked, dropped) above 5%: the sign of a bad import.

The limits are ``[guards]`` in the config (:class:`digest.settings.Guards`). Each needs
``min_readers`` readers behind its rate, so one complaint among the first
ten deliveries is not a trip. A guard that trips is written down (``guard_trips``) and
from then on :func:`held_reason` answers its reason to every batch about to start
(:func:`digest.deliver.batch.send_batch` puts the batch back instead of sending it),
for this edition and the next ones alike, until an operator releases it
(``digest resume --force``). The operator's word holds: a released complaint guard is not
tripped again for 24 hours, nor a released hard-bounce guard for that edition.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..models import EditionCounter, GuardTrip
from ..review.holds import edition_hold
from ..settings import Guards
from .figures import BLOCKED, BOUNCED, COMPLAINED, DELIVERED, DROPPED

COMPLAINTS = "complaint-rate"
HARD_BOUNCES = "hard-bounce-rate"
COMPLAINT_DAYS = 7
RELEASE_HOLDS = timedelta(hours=24)

_trips = GuardTrip.__table__
_counters = EditionCounter.__table__
Database = Session | Connection


def active_trip(db: Database):
    """The guard holding sending (its row), or None."""
    return db.execute(select(_trips).where(_trips.c.released_at.is_(None)).order_by(_trips.c.id).limit(1)).first()


def held_reason(db: Database, edition_id: int, now: datetime, limits: Guards = Guards()) -> str | None:
    """Why no batch may start now, or None: an editor holds the edition
    (:mod:`digest.review.holds`), or a guard holds sending. Trips a guard whose limit is
    passed (committed at once: the trip must outlive whatever the caller does next)."""
    hold = edition_hold(db, edition_id)
    if hold is not None:
        db.commit()
        return hold
    trip = active_trip(db)
    if trip is not None:
        return trip.reason
    found = _complaints(db, now, limits) or _hard_bounces(db, edition_id, limits)
    if found is None:
        db.commit()
        return None
    guard, reason = found
    db.execute(insert(_trips).values(guard=guard, edition_id=edition_id if guard == HARD_BOUNCES else None,
                                     reason=reason, tripped_at=now))
    db.commit()
    return reason


def release(db: Database, now: datetime) -> list[str]:
    """``digest resume --force``: release every guard holding sending; their reasons."""
    reasons = list(db.scalars(select(_trips.c.reason).where(_trips.c.released_at.is_(None)).order_by(_trips.c.id)))
    db.execute(update(_trips).where(_trips.c.released_at.is_(None)).values(released_at=now))
    return reasons


def _sums(db: Database, *conditions) -> dict[str, int]:
    rows = db.execute(select(_counters.c.figure, func.sum(_counters.c.count))
                      .where(_counters.c.item == "", *conditions).group_by(_counters.c.figure))
    return {figure: int(total) for figure, total in rows}


def _released_since(db: Database, guard: str, *conditions) -> bool:
    return db.execute(select(_trips.c.id).where(_trips.c.guard == guard, _trips.c.released_at.is_not(None),
                                                *conditions).limit(1)).first() is not None


def _complaints(db: Database, now: datetime, limits: Guards) -> tuple[str, str] | None:
    if _released_since(db, COMPLAINTS, _trips.c.released_at > now - RELEASE_HOLDS):
        return None
    since = now.date() - timedelta(days=COMPLAINT_DAYS - 1)
    sums = _sums(db, _counters.c.day >= since, _counters.c.figure.in_((COMPLAINED, DELIVERED)))
    delivered, complained = sums.get(DELIVERED, 0), sums.get(COMPLAINED, 0)
    if delivered < limits.min_readers or complained / delivered <= limits.complaint_rate:
        return None
    return COMPLAINTS, (f"spam complaints over the last {COMPLAINT_DAYS} days are {complained / delivered:.2%} "
                        f"({complained} of {delivered} delivered), over the {limits.complaint_rate:.1%} limit")


def _hard_bounces(db: Database, edition_id: int, limits: Guards) -> tuple[str, str] | None:
    if _released_since(db, HARD_BOUNCES, _trips.c.edition_id == edition_id):
        return None
    sums = _sums(db, _counters.c.edition_id == edition_id,
                 _counters.c.figure.in_((DELIVERED, BOUNCED, BLOCKED, DROPPED)))
    outcomes, bounced = sum(sums.values()), sums.get(BOUNCED, 0)
    if outcomes < limits.min_readers or bounced / outcomes <= limits.hard_bounce_rate:
        return None
    return HARD_BOUNCES, (f"hard bounces of edition {edition_id} are {bounced / outcomes:.2%} ({bounced} of "
                          f"{outcomes} with an outcome), over the {limits.hard_bounce_rate:.1%} limit: check the "
                          "last import of subscribers")
