"""A claimed batch as the provider sees it: its body dated for its readers' zones, and each
reader's tokens (signed links, their own dates where zones disagree) and one-click headers.

Readers who unsubscribed (or bounced, or complained) since planning are marked skipped
here and left out (:mod:`.ledger.departures`). A body comes with its batch's claim (as
stored) and is decompressed once per process and kept, keyed on its content's fingerprint
(:class:`DatedBodies`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timezone

from sqlalchemy import bindparam, select, update

from ..content import RenderedEmail, tokens_in
from ..db import fetch_tuples
from ..links import LinkMaker
from ..message import recipient_headers, shared_headers
from ..models import Delivery, DeliveryStatus
from ..models.compressed import decompress_text
from ..runtime import Runtime
from .dates import DatedBody, dated_for_zones
from .ledger import ClaimedBatch
from .ledger.departures import left_since_planning
from .plan.result import SkipReason
from .providers import OutgoingBatch, Recipient
from .providers.base import substituted


def make_link_maker(runtime: Runtime) -> LinkMaker:
    settings = runtime.settings
    return LinkMaker(settings.base_url, settings.require_secret_key())


_deliveries = Delivery.__table__
_SKIP_SUPPRESSED = (
    update(_deliveries)
    .where(_deliveries.c.id.in_(bindparam("ids", expanding=True)), _deliveries.c.status == DeliveryStatus.QUEUED)
    .values(status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.SUPPRESSED)
)
#: (delivery id, subscriber id, email, zone, left): the batch's own rows, as planned, and
#: whether each reader left since (:mod:`.ledger.departures`), per dialect.
_RECIPIENTS = {
    dialect: select(_deliveries.c.id, _deliveries.c.subscriber_id, _deliveries.c.email, _deliveries.c.timezone,
                    left_since_planning(_deliveries.c.subscriber_id, dialect))
    .where(_deliveries.c.batch_id == bindparam("b_id"), _deliveries.c.status == DeliveryStatus.QUEUED)
    .order_by(_deliveries.c.id)
    for dialect in ("postgresql", "sqlite")
}


def queued_recipients(conn, batch_id: int) -> tuple[list, int]:
    """The batch's queued recipients (delivery id, subscriber id, email, zone) who are
    still subscribed, and how many are not: those who unsubscribed (or bounced) since
    planning are marked skipped, not sent (the UPDATE runs only when someone left).

    One statement reads the rows and whether each reader left (was two: the rows, then
    their subscriber ids sent back as an array to ask which left: a thousand ids dumped
    and a second round trip per batch)."""
    rows = fetch_tuples(conn, _RECIPIENTS[conn.dialect.name], {"b_id": batch_id}, cached=True, alone=True)
    gone = [row[0] for row in rows if row[4]]
    if not gone:
        return [row[:4] for row in rows], 0
    suppressed = conn.execute(_SKIP_SUPPRESSED, {"ids": gone}).rowcount
    return [row[:4] for row in rows if not row[4]], suppressed


def build_outgoing(claimed: ClaimedBatch, rows, links: LinkMaker, config,
                   sent_at: datetime | None = None) -> OutgoingBatch:
    """The provider's view of a batch claimed to be sent (its body as stored came with the
    claim): its body, dates that all its readers see alike filled in once (the heading's
    date from ``sent_at``, default now), and each recipient's tokens (links, and their own
    dates where zones disagree: :mod:`.dates`) and headers."""
    dated = _dated_bodies.get(claimed.body_id, claimed.body_fingerprint, claimed.stored_body,
                              {row[3] for row in rows}, sent_at)
    return OutgoingBatch(
        batch_id=claimed.batch_id,
        edition_id=claimed.edition_id,
        edition_date=claimed.edition_date,
        body=dated.body,
        recipients=_recipients(rows, claimed.body_id, links, dated),
        headers=shared_headers(config),
        sent_at=sent_at,
    )


def _recipients(rows, body_id: int, links: LinkMaker, dated: DatedBody) -> list[Recipient]:
    """Each reader's values in one dict keyed ``%%name%%`` (their links, then their zone's
    dates, made once per batch), which SendGrid's request uses as it is and the other
    providers read by name (:class:`~.providers.base.SubstitutedTokens`)."""
    recipients = []
    substitutions, zone_dates = links.substitutions, dated.substitutions
    for delivery_id, subscriber_id, email, zone in rows:
        values = substitutions(subscriber_id, email, body_id)
        values.update(zone_dates[zone])
        recipients.append(substituted(delivery_id, subscriber_id, email, values,
                                      recipient_headers(values["%%unsubscribe_url%%"])))
    return recipients


class DatedBodies:
    """Recent bodies, and their copies dated for a set of zones, in this process.

    Keyed on the body's fingerprint (sha256 of its content) as well as its id, so an entry
    can only ever be served for the same content, whatever database the id came from.
    Shared by the sending threads; a miss decompresses the body its claim returned.
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

    def body(self, body_id: int, fingerprint: str, stored: tuple) -> RenderedEmail:
        """The body: kept, or made from its ``stored`` columns (:attr:`ClaimedBatch.stored_body`)."""
        key = (body_id, fingerprint)
        body = self._cached(self._bodies, key)
        if body is None:
            body = stored_email(body_id, *stored)
            self._store(self._bodies, key, body)
        return body

    def get(self, body_id: int, fingerprint: str, stored: tuple, zones: set[str],
            now: datetime | None = None) -> DatedBody:
        # The sending minute is part of the key: the heading's date is the day it is sent.
        minute = (now or datetime.now(timezone.utc)).replace(second=0, microsecond=0)
        key = (body_id, fingerprint, frozenset(zones), minute)
        dated = self._cached(self._dated, key)
        if dated is None:
            dated = dated_for_zones(self.body(body_id, fingerprint, stored), zones, minute)
            self._store(self._dated, key, dated)
        return dated


_dated_bodies = DatedBodies()


def stored_email(body_id: int, subject: str, preheader: str, html: bytes | None, text: bytes | None,
                 pruned_at: datetime | None) -> RenderedEmail:
    """A body from its stored columns, html and text as stored (compressed), as a claim
    returns them (:attr:`ClaimedBatch.stored_body`); :class:`BodyPruned` when pruned."""
    return _email(body_id, subject, preheader, None if html is None else decompress_text(html),
                  None if text is None else decompress_text(text), pruned_at)


class BodyPruned(ValueError):
    """The body's content was pruned after ``[review] keep_bodies``."""


def rendered_email(body) -> RenderedEmail:
    """A stored body (a row or a :class:`RenderedBody`) as the provider-neutral value
    (its html and text decompressed by their column type); :class:`BodyPruned` when its
    content was pruned."""
    return _email(body.id, body.subject, body.preheader, body.html, body.text, body.pruned_at)


def _email(body_id: int, subject: str, preheader: str, html: str | None, text: str | None,
           pruned_at: datetime | None) -> RenderedEmail:
    if html is None or text is None:
        raise BodyPruned(f"body {body_id} was pruned on {pruned_at:%Y-%m-%d} ([review] keep_bodies)"
                         if pruned_at else f"body {body_id} has no content")
    used = tokens_in(subject) | tokens_in(html) | tokens_in(text)
    return RenderedEmail(subject, preheader, html, text, frozenset(used))
