"""The provider requests of a sent edition, rebuilt from the ledger for the floor.

Each sent batch's request is rebuilt the way the sending code builds it (its stored body,
one recipient per sent delivery with its dates, built by the send path's
``batch_recipients``), one batch at a time so
only one request is ever in memory. Only the encoding of these payloads is timed.
"""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import select

from digest.deliver.providers.base import OutgoingBatch
from digest.deliver.recipients import batch_recipients, make_link_maker, rendered_email
from digest.deliver.providers.sendgrid_payload import build_payload
from digest.message import shared_headers
from digest.models import Batch, BatchStatus, DeliveryStatus, Edition, RenderedBody
from digest.runtime import Runtime


def sent_payloads(runtime: Runtime, edition_id: int) -> Iterator[dict]:
    config = runtime.settings.config
    links = make_link_maker(runtime)
    headers = shared_headers(config)
    bodies: dict[int, object] = {}
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        batches = session.execute(
            select(Batch.id, Batch.body_id).where(Batch.edition_id == edition_id, Batch.status == BatchStatus.SENT)
            .order_by(Batch.number)
        ).all()
        conn = session.connection()
        for batch_id, body_id in batches:
            if body_id not in bodies:
                bodies[body_id] = rendered_email(session.get(RenderedBody, body_id))
            body, recipients = batch_recipients(conn, batch_id, body_id, bodies[body_id], links, DeliveryStatus.SENT)
            yield build_payload(OutgoingBatch(batch_id, edition_id, edition.date, body, recipients, headers), config)
