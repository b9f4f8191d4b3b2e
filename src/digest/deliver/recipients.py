"""A claimed batch as the provider sees it: its body dated for its readers' zones, and each
reader's tokens (signed links, their own dates where zones disagree) and one-click headers.

Readers who unsubscribed (or bounced) since planning are marked skipped here, in the
claim's transaction, and left out. Bodies are read once per process and kept, keyed on
their content's fingerprint (:class:`DatedBodies`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timezone

from sqlalchemy import BigInteger, any_, bindparam, cast, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from ..content import RenderedEmail, tokens_in
from ..db import fetch_tuples
from ..links import LinkMaker
from ..message import recipient_headers, shared_headers
from ..models import Delivery, DeliveryStatus, RenderedBody, Subscriber, SubscriberStatus
from ..runtime import Runtime
from .dates import DatedBody, dated_for_zones
from .ledger import ClaimedBatch
from .plan.result import SkipReason
from .providers import OutgoingBatch, Recipient


def make_link_maker(runtime: Runtime) -> LinkMaker:
    settings = runtime.settings
    return LinkMaker(settings.base_url, settings.require_secret_key())


_deliveries = Delivery.__table__
_subscribers = Subscriber.__table__
_SKIP_SUPPRESSED = (
    update(_deliveries)
    .where(_deliveries.c.id.in_(bindparam("ids", expanding=True)), _deliveries.c.status == DeliveryStatus.QUEUED)
    .values(status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.SUPPRESSED)
)
_RECIPIENTS = (  # (delivery id, subscriber id, email, zone): the batch's own rows, as planned
    select(_deliveries.c.id, _deliveries.c.subscriber_id, _deliveries.c.email, _deliveries.c.timezone)
    .where(_deliveries.c.batch_id == bindparam("b_id"), _deliveries.c.status == bindparam("b_status"))
    .order_by(_deliveries.c.id)
)
#: Which of these subscribers are no longer subscribed: answered from the partial index
#: ``ix_subscribers_inactive`` (a probe per reader), not by reading every reader's row. On
#: PostgreSQL the ids go as one array, not a thousand bind parameters.
_INACTIVE = select(_subscribers.c.id).where(
    _subscribers.c.id.in_(bindparam("s_ids", expanding=True)), _subscribers.c.status != SubscriberStatus.ACTIVE)
_INACTIVE_PG = select(_subscribers.c.id).where(
    _subscribers.c.id == any_(cast(bindparam("s_ids"), ARRAY(BigInteger))),
    _subscribers.c.status != SubscriberStatus.ACTIVE)


def queued_recipients(conn, batch_id: int) -> tuple[list, int]:
    """The batch's queued recipients who are still subscribed, and how many are not:
    those who unsubscribed (or bounced) since planning are marked skipped, not sent (the
    UPDATE runs only when someone left)."""
    rows = _batch_rows(conn, batch_id, DeliveryStatus.QUEUED)
    inactive = _inactive(conn, [row[1] for row in rows]) if rows else set()
    if not inactive:
        return rows, 0
    gone = [row[0] for row in rows if row[1] in inactive]
    suppressed = conn.execute(_SKIP_SUPPRESSED, {"ids": gone}).rowcount
    return [row for row in rows if row[1] not in inactive], suppressed


def _inactive(conn, subscriber_ids: list[int]) -> set[int]:
    if conn.dialect.name == "postgresql":
        return {sid for (sid,) in fetch_tuples(conn, _INACTIVE_PG, {"s_ids": subscriber_ids}, cached=True)}
    return set(conn.execute(_INACTIVE, {"s_ids": subscriber_ids}).scalars())


def _batch_rows(conn, batch_id: int, status: str) -> list[tuple]:
    return fetch_tuples(conn, _RECIPIENTS, {"b_id": batch_id, "b_status": status}, cached=True)


def build_outgoing(conn, claimed: ClaimedBatch, rows, links: LinkMaker, config,
                   sent_at: datetime | None = None) -> OutgoingBatch:
    """The provider's view of a claimed batch: its body, dates that all its readers see
    alike filled in once (the heading's date from ``sent_at``, default now), and each
    recipient's tokens (links, and their own dates where zones disagree: :mod:`.dates`)
    and headers."""
    dated = _dated_bodies.get(conn, claimed.body_id, claimed.body_fingerprint, {row[3] for row in rows}, sent_at)
    return OutgoingBatch(
        batch_id=claimed.batch_id,
        edition_id=claimed.edition_id,
        edition_date=claimed.edition_date,
        body=dated.body,
        recipients=_recipients(rows, claimed.body_id, links, dated),
        headers=shared_headers(config),
        sent_at=sent_at,
    )


def batch_recipients(conn, batch_id: int, body_id: int, body: RenderedEmail, links: LinkMaker,
                     status: str) -> tuple[RenderedEmail, list[Recipient]]:
    """A batch's deliveries in ``status`` (one read), as the send path builds them: the body
    dated for their zones, and each reader's token values and one-click headers."""
    rows = _batch_rows(conn, batch_id, status)
    dated = dated_for_zones(body, {row[3] for row in rows})
    return dated.body, _recipients(rows, body_id, links, dated)


def _recipients(rows, body_id: int, links: LinkMaker, dated: DatedBody) -> list[Recipient]:
    recipients = []
    for delivery_id, subscriber_id, email, zone in rows:
        tokens = links.token_values(subscriber_id, email, body_id)
        tokens.update(dated.values_for(zone))
        recipients.append(Recipient(delivery_id, subscriber_id, email, tokens, recipient_headers(tokens["unsubscribe_url"])))
    return recipients


class DatedBodies:
    """Recent bodies, and their copies dated for a set of zones, in this process.

    Keyed on the body's fingerprint (sha256 of its content) as well as its id, so an entry
    can only ever be served for the same content, whatever database the id came from.
    Shared by the sending threads; a miss reads the body once.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._bodies: OrderedDict[tuple[int, str], RenderedEmail] = OrderedDict()
        self._dated: OrderedDict[tuple[int, str, frozenset[str]], DatedBody] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, cache: OrderedDict, key):
        with self._lock:
            value = cache.get(key)
            if value is not None:
                cache.move_to_end(key)
            return value

    def _store(self, cache: OrderedDict, key, value) -> None:
        with self._lock:
            cache[key] = value
            cache.move_to_end(key)
            while len(cache) > self.size:
                cache.popitem(last=False)

    def body(self, conn, body_id: int, fingerprint: str) -> RenderedEmail:
        key = (body_id, fingerprint)
        body = self._cached(self._bodies, key)
        if body is None:
            body = rendered_email(conn.execute(_BODY, {"b_id": body_id}).one())
            self._store(self._bodies, key, body)
        return body

    def get(self, conn, body_id: int, fingerprint: str, zones: set[str], now: datetime | None = None) -> DatedBody:
        # The sending minute is part of the key: the heading's date is the day it is sent.
        minute = (now or datetime.now(timezone.utc)).replace(second=0, microsecond=0)
        key = (body_id, fingerprint, frozenset(zones), minute)
        dated = self._cached(self._dated, key)
        if dated is None:
            dated = dated_for_zones(self.body(conn, body_id, fingerprint), zones, minute)
            self._store(self._dated, key, dated)
        return dated


_dated_bodies = DatedBodies()
_stored = RenderedBody.__table__
_BODY = select(_stored.c.id, _stored.c.subject, _stored.c.preheader, _stored.c.html, _stored.c.text,
               _stored.c.pruned_at).where(_stored.c.id == bindparam("b_id"))


class BodyPruned(ValueError):
    """The body's content was pruned after ``[review] keep_bodies``."""


def rendered_email(body) -> RenderedEmail:
    """A stored body (a row or a :class:`RenderedBody`) as the provider-neutral value
    (its html and text decompressed by their column type); :class:`BodyPruned` when its
    content was pruned."""
    if body.html is None or body.text is None:
        raise BodyPruned(f"body {body.id} was pruned on {body.pruned_at:%Y-%m-%d} ([review] keep_bodies)"
                         if body.pruned_at else f"body {body.id} has no content")
    used = tokens_in(body.subject) | tokens_in(body.html) | tokens_in(body.text)
    return RenderedEmail(body.subject, body.preheader, body.html, body.text, frozenset(used))
