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
(:func:`held_verdict` judges what the batch's claim read:
:func:`digest.deliver.batch.send_batch` puts the batch back instead of sending it),
for this edition and the next ones alike, until an operator releases it
(``digest resume --force``). The operator's word holds: a released complaint guard is not
tripped again for 24 hours, nor a released hard-bounce guard for that edition.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, func, insert, literal_column, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..models import Edition, EditionControl, EditionCounter, GuardTrip
from ..review.holds import hold_message
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


#: The edition's own figure, with ``''`` written into the SQL, not bound: the predicate of
#: the partial index the sums over days read (:data:`digest.models.records.OWN_FIGURES`).
#: Bound, it would be proved only when the value is known at planning: not in the generic
#: plan PostgreSQL may settle on for a statement psycopg prepares (every sum a seq scan of
#: the table), nor ever on SQLite.
OWN_FIGURE = _counters.c.item == literal_column("''")


def _counted_query(figure: str, *conditions):
    # The 0 is written into the SQL, not bound: six of these in a batch's claim kept it
    # over the 4,096 bytes psycopg caches its parse of, so every claim was parsed again
    # (89 us of a sending thread's CPU a batch).
    return select(func.coalesce(func.sum(_counters.c.count), literal_column("0"))).where(
        OWN_FIGURE, _counters.c.figure == figure, *conditions)


def _counted(figure: str, *conditions):
    return _counted_query(figure, *conditions).scalar_subquery()


_controls = EditionControl.__table__
_editions = Edition.__table__
_EDITION = bindparam("g_edition")
_OUTCOMES = (DELIVERED, BOUNCED, BLOCKED, DROPPED)


def held_state_columns(edition):
    """Everything :func:`held_reason` reads, as labelled scalar subqueries about the edition
    ``edition`` (a bound parameter, or a column of the statement they are put in, such as
    the claim's ``batches.edition_id``): the editor's hold (the reads of
    :func:`digest.review.holds.edition_hold`), the guard holding sending
    (:func:`active_trip`), and what each guard's rate needs. Bound by :func:`held_state_params`."""
    def one(query):
        return query.correlate_except(_controls, _editions, _trips, _counters)
    return (
        *(one(select(column).where(_controls.c.edition_id == edition)).scalar_subquery().label(column.name)
          for column in (_controls.c.held_at, _controls.c.held_by, _controls.c.cancelled_at)),
        one(select(_editions.c.date).where(_editions.c.id == edition)).scalar_subquery().label("edition_date"),
        select(_trips.c.reason).where(_trips.c.released_at.is_(None)).order_by(_trips.c.id).limit(1)
        .scalar_subquery().label("active_reason"),
        exists().where(_trips.c.guard == COMPLAINTS, _trips.c.released_at.is_not(None),
                       _trips.c.released_at > bindparam("g_released_after")).label("complaints_released"),
        _counted(DELIVERED, _counters.c.day >= bindparam("g_since")).label("delivered_lately"),
        _counted(COMPLAINED, _counters.c.day >= bindparam("g_since")).label("complained_lately"),
        one(exists().where(_trips.c.guard == HARD_BOUNCES, _trips.c.released_at.is_not(None),
                           _trips.c.edition_id == edition)).label("bounces_released"),
        *(one(_counted_query(figure, _counters.c.edition_id == edition)).scalar_subquery().label(figure)
          for figure in _OUTCOMES),
    )


def held_state_params(now: datetime) -> dict:
    """:func:`held_state_columns`' parameters at ``now``."""
    return {"g_released_after": now - RELEASE_HOLDS, "g_since": _complaint_days_since(now)}


#: Everything :func:`held_reason` reads, in one statement built once: it runs before every
#: batch (a million readers are 2,000-3,000 batches), where six statements, each built
#: anew, cost more CPU than the batch's own claim. The send path reads the same columns in
#: the claim's own statement (:func:`digest.deliver.ledger.claim_batch`) and judges them with
#: :func:`held_verdict`.
_HELD_STATE = select(*held_state_columns(_EDITION))


def held_reason(db: Database, edition_id: int, now: datetime, limits: Guards = Guards()) -> str | None:
    """Why no batch may start now, or None: an editor holds the edition
    (:mod:`digest.review.holds`), or a guard holds sending. Trips a guard whose limit is
    passed (committed at once: the trip must outlive whatever the caller does next)."""
    state = db.execute(_HELD_STATE, {"g_edition": edition_id, **held_state_params(now)}).one()
    return held_verdict(db, edition_id, state, now, limits)


def held_verdict(db: Database, edition_id: int, state, now: datetime, limits: Guards = Guards()) -> str | None:
    """:func:`held_reason` from ``state``, the columns of :func:`held_state_columns` read
    already (with the claim of a batch); commits, as :func:`held_reason` does."""
    hold = hold_message(state.held_at, state.held_by, state.cancelled_at, state.edition_date)
    if hold is not None:
        db.commit()
        return hold
    if state.active_reason is not None:
        return state.active_reason
    found = None
    if not state.complaints_released:
        found = _complaint_rate(int(state.delivered_lately), int(state.complained_lately), limits)
    if found is None and not state.bounces_released:
        found = _hard_bounce_rate(edition_id, {figure: int(getattr(state, figure)) for figure in _OUTCOMES}, limits)
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


def _complaint_days_since(now: datetime):
    return now.date() - timedelta(days=COMPLAINT_DAYS - 1)


def _complaint_rate(delivered: int, complained: int, limits: Guards) -> tuple[str, str] | None:
    if delivered < limits.min_readers or complained / delivered <= limits.complaint_rate:
        return None
    return COMPLAINTS, (f"spam complaints over the last {COMPLAINT_DAYS} days are {complained / delivered:.2%} "
                        f"({complained} of {delivered} delivered), over the {limits.complaint_rate:.1%} limit")


def _hard_bounce_rate(edition_id: int, sums: dict[str, int], limits: Guards) -> tuple[str, str] | None:
    outcomes, bounced = sum(sums.values()), sums.get(BOUNCED, 0)
    if outcomes < limits.min_readers or bounced / outcomes <= limits.hard_bounce_rate:
        return None
    return HARD_BOUNCES, (f"hard bounces of edition {edition_id} are {bounced / outcomes:.2%} ({bounced} of "
                          f"{outcomes} with an outcome), over the {limits.hard_bounce_rate:.1%} limit: check the "
                          "last import of subscribers")
