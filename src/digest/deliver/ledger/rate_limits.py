"""A rate-limit reset recorded on the edition, for every sender of it to wait out
(:mod:`digest.deliver.providers.rate_limit`; each batch's claim reads it back)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, bindparam, or_, update

from ...models import Edition

_editions = Edition.__table__
_LATER_RESET = (  # only ever moved later: two senders told different resets keep the later
    update(_editions)
    .where(_editions.c.id == bindparam("edition"),
           or_(_editions.c.rate_limited_until.is_(None), _editions.c.rate_limited_until < bindparam("until")))
    .values(rate_limited_until=bindparam("until"))
)


def record_rate_limit(engine: Engine, edition_id: int, until: datetime) -> None:
    """One short transaction of its own: the sender that was told is between its batch's
    claim and settlement, whose connection holds no transaction meanwhile."""
    with engine.begin() as conn:
        conn.execute(_LATER_RESET, {"edition": edition_id, "until": until})
