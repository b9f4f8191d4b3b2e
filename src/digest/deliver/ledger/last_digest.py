"""Each reader's last digest, copied from the ledger once an edition's batches are settled."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.orm import Session

from ...models import Batch, BatchStatus, Delivery, DeliveryStatus, Subscriber
from ...select.snapshot import window_end as snapshot_window_end

_batches = Batch.__table__
_deliveries = Delivery.__table__
_subscribers = Subscriber.__table__


#: Sent batches per statement when recording readers' last digest (bounds bind parameters).
_RECORD_CHUNK = 2000


def record_last_digests(session: Session | Connection, edition_id: int | None = None, *, parts: int = 1,
                        open_session: Callable[[], Session] | None = None) -> int:
    """Copy each reader's latest send from the ledger into ``subscribers.last_digest_at``,
    for every sent batch not yet recorded (of ``edition_id``, or of any edition). Returns
    the number of subscribers updated. Idempotent: a later send never moves it back.

    Why not as each batch settles: a batch's readers are spread over the whole subscriber
    table, so updating them batch by batch touched a random page per reader (at a million
    readers, the costliest statement of an edition, ~40 s of PostgreSQL's time on two
    cores); one statement per edition updates them in table order. With ``parts`` > 1
    and ``open_session`` (PostgreSQL), the subscriber table is split into that many id
    ranges, updated at once on their own connections (the batches are marked recorded
    once every part is done; a part that fails leaves them unrecorded, to be done again).
    ``send_edition`` records its edition once its batches are settled, and planning
    records whatever is left first (a run that stopped before recording), so selection
    always sees every digest the ledger says was sent.
    """
    # Locked in id order, a chunk at a time: a second recorder (the worker's next plan while
    # `digest send` records) waits for the rows, then finds them recorded, rather than
    # updating the same subscribers in another order (a deadlock).
    query = (select(_batches.c.id).where(_batches.c.status == BatchStatus.SENT, ~_batches.c.readers_recorded)
             .order_by(_batches.c.id).limit(_RECORD_CHUNK).with_for_update())
    if edition_id is not None:
        query = query.where(_batches.c.edition_id == edition_id)
    # (SQLite has one writer at a time: one part there.)
    in_parts = parts > 1 and open_session is not None and session.get_bind().dialect.name == "postgresql"
    ranges: list[tuple[int, int]] = []  # read once there is something to record
    updated = 0
    while chunk := list(session.scalars(query)):
        if not in_parts:
            updated += session.execute(_record_statement(chunk, None)).rowcount
        else:
            def record_part(id_range, chunk=chunk):
                with open_session() as own:
                    count = own.execute(_record_statement(chunk, id_range)).rowcount
                    own.commit()
                    return count

            ranges = ranges or _id_ranges(session, parts)
            with ThreadPoolExecutor(len(ranges), thread_name_prefix="digest-record") as pool:
                updated += sum(pool.map(record_part, ranges))
        session.execute(update(_batches).where(_batches.c.id.in_(chunk)).values(readers_recorded=True)
                        .execution_options(synchronize_session=False))
        session.commit()
    return updated


def _id_ranges(session, parts: int) -> list[tuple[int, int]]:
    low, high = session.execute(select(func.min(_subscribers.c.id), func.max(_subscribers.c.id))).one()
    if low is None:
        return [(0, 0)]
    step = max(1, (high - low + parts) // parts)
    return [(first, min(first + step - 1, high)) for first in range(low, high + 1, step)]


def _record_statement(batch_ids: list[int], id_range: tuple[int, int] | None):
    """UPDATE subscribers from the latest sent delivery of each, among ``batch_ids``
    (and, given a range, only subscribers whose id is in it)."""
    condition = [_deliveries.c.batch_id.in_(batch_ids), _deliveries.c.status == DeliveryStatus.SENT]
    if id_range is not None:
        condition.append(_deliveries.c.subscriber_id.between(*id_range))
    sent_from, window_end = snapshot_window_end(_deliveries)  # a drafted edition's cut (digest.select.snapshot)
    latest = (
        select(_deliveries.c.subscriber_id, func.max(window_end).label("sent_at")).select_from(sent_from)
        .where(*condition)
        .group_by(_deliveries.c.subscriber_id)
        .subquery()
    )
    return (
        update(_subscribers)
        .where(_subscribers.c.id == latest.c.subscriber_id,
               or_(_subscribers.c.last_digest_at.is_(None), _subscribers.c.last_digest_at < latest.c.sent_at))
        .values(last_digest_at=latest.c.sent_at)
        .execution_options(synchronize_session=False)
    )


