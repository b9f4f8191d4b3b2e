"""One edition in flight per reader.

A reader whose delivery in some edition is still ``queued`` (its batch pending or being
sent) or ``ambiguous`` (it may or may not have gone out) is not planned into another
edition until that delivery is settled: otherwise an operator's resend of the first and
a send of the second could both reach them, and a digest planned meanwhile would repeat
items, since an unsettled send does not move their ``last_digest_at``. They get a
``skipped`` row with reason ``in-flight`` instead; their next digest starts from their
last settled one.

Found through the batches (a few, by ``ix_batches_status`` and ``ix_batches_in_doubt``),
then their rows (``ix_deliveries_batch_id``): never a search of every delivery row a
reader ever had.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from ...models import Batch, BatchStatus, Delivery, DeliveryStatus, Edition

IN_FLIGHT = "in-flight"

_batches = Batch.__table__
_deliveries = Delivery.__table__

#: Batch states whose queued or ambiguous readers are in flight.
_UNSETTLED_BATCH = (BatchStatus.PENDING, BatchStatus.SENDING, BatchStatus.AMBIGUOUS)
#: A delivery in one of these is not settled.
UNSETTLED_DELIVERY = (DeliveryStatus.QUEUED, DeliveryStatus.AMBIGUOUS)


def unsettled_batches(edition_id: int | None = None):
    """Ids of batches with readers in flight (of any edition but ``edition_id``)."""
    query = select(_batches.c.id).where(or_(_batches.c.status.in_(_UNSETTLED_BATCH), _batches.c.readers_in_doubt))
    if edition_id is not None:
        query = query.where(_batches.c.edition_id != edition_id)
    return query


def in_flight_batches(session, edition_id: int | None) -> list[int]:
    """Ids of the batches of editions other than ``edition_id`` with readers in flight: none
    on most days, a few when an edition has ambiguous readers or is still being sent."""
    return list(session.scalars(unsettled_batches(edition_id)))


def readers_in(batch_ids: list[int]):
    """Subscriber ids with a delivery in flight in these batches (a subquery:
    ``Subscriber.id.in_(readers_in(in_flight_batches(session, e)))``).

    The batches are given as values, read first (:func:`in_flight_batches`), not as a
    subquery: given ``batch_id IN (SELECT ...)``, PostgreSQL may start from
    ``deliveries`` instead, scanning every row with a queued status (the edition being
    planned has hundreds of thousands) and looking up each one's batch, once per chunk of
    readers, when ``deliveries`` has no statistics yet (a fresh ledger, an edition's rows
    written since the last ANALYZE): 0.2-0.5 s a chunk, growing with the edition
    (``benchmarks/RESULTS.md``, "Readers in flight, found from their batches")."""
    return (select(_deliveries.c.subscriber_id)
            .where(_deliveries.c.batch_id.in_(batch_ids), _deliveries.c.status.in_(UNSETTLED_DELIVERY)))


def editions_with(session, delivery_status: str) -> list:
    """Dates of the editions with readers in ``delivery_status`` (``ambiguous`` or
    ``failed``) whom a resend would reach (not in a batch being sent), oldest first. An
    operator's question, not the send path's: it reads the deliveries of every edition."""
    return list(session.scalars(
        select(Edition.date).where(Edition.id.in_(
            select(_deliveries.c.edition_id)
            .join(_batches, _batches.c.id == _deliveries.c.batch_id)
            .where(_deliveries.c.status == delivery_status, _batches.c.status != BatchStatus.SENDING)))
        .order_by(Edition.date)))
