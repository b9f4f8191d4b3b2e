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


def in_flight_readers(edition_id: int | None):
    """Subscriber ids with a delivery in flight in an edition other than ``edition_id``
    (a subquery: ``Subscriber.id.in_(in_flight_readers(e))``)."""
    return (select(_deliveries.c.subscriber_id)
            .where(_deliveries.c.batch_id.in_(unsettled_batches(edition_id)),
                   _deliveries.c.status.in_(UNSETTLED_DELIVERY)))


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
