"""A reader's rows of the ledger, found edition by edition.

``deliveries`` is keyed (edition, subscriber), and no index starts with the subscriber: a
planner writes an edition's rows a chunk of readers (a range of subscriber ids) at a time,
and under that key each goes near the index's right end; keyed (subscriber, edition), each
went next to the reader's earlier rows all over an index as big as the ledger, and an
index on the subscriber alone would do the same (measured in benchmarks/RESULTS.md, "The
ledger's indexes"). The few queries about one reader (or a handful: erasure, their data,
the archive, an unsubscribe) ask for them in every edition: one look-up in the key per edition, a few thousand in years
of editions, never a scan of the ledger. Use :func:`in_any_edition` with a condition on
``subscriber_id`` wherever ``edition_id`` is not otherwise known.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ...models import Delivery, Edition

#: PostgreSQL: the editions' ids as one array, so the key's scan has its first column's
#: values in its own condition (a probe per edition); as ``IN (SELECT ...)`` the planner
#: may read the whole key filtering on its second column instead (it did on a small ledger).
_EVERY_EDITION_PG = text("deliveries.edition_id = ANY (ARRAY(SELECT editions.id FROM editions))")


def in_any_edition(session: Session):
    """``deliveries.edition_id`` is one of the editions': true of every row (an edition is
    never deleted, and every row's edition exists), written so the (edition, subscriber)
    key serves a condition on the subscriber. ``deliveries`` must not be aliased."""
    if session.get_bind().dialect.name == "postgresql":
        return _EVERY_EDITION_PG
    return Delivery.__table__.c.edition_id.in_(select(Edition.__table__.c.id))
