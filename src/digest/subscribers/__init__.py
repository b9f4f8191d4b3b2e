"""The subscriber list: add, remove, list, and CSV import/export (:mod:`.csv_io`).

A removed, bounced or complained address keeps its row with that status, so it stays
suppressed: nothing but an explicit ``resubscribe`` ever makes it active again (not a
re-import, not a second ``add``).
"""

from .registry import (
    AlreadySuppressed,
    SubscriberData,
    SubscriberError,
    add_subscriber,
    iter_subscribers,
    normalise_email,
    remove_subscriber,
    upsert_subscriber,
)

__all__ = [
    "AlreadySuppressed",
    "SubscriberData",
    "SubscriberError",
    "add_subscriber",
    "iter_subscribers",
    "normalise_email",
    "remove_subscriber",
    "upsert_subscriber",
]
