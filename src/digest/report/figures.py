"""The figures of an edition, and which SendGrid event counts in which.

Every figure but ``clicks`` counts *readers*: a reader is counted once per figure and
edition however many events say it (SendGrid sends an event per open, may defer a
message several times, and a retried post repeats events). ``clicks`` counts every
click, per item too.

Opens carrying ``sg_machine_open: true`` were fetched by a machine, not a person (Apple
Mail Privacy Protection loads every image of every message it receives, read or not):
they count in ``machine_opened`` and are left out of ``opened`` and the open rate, which
would otherwise say "read" of mail nobody looked at.
"""

from __future__ import annotations

from typing import Any

SENT = "sent"  # readers the ledger marked sent (counted as batches settle, not from events)
DELIVERED = "delivered"
DEFERRED = "deferred"
BOUNCED = "bounced"  # a hard bounce: the address does not take mail
BLOCKED = "blocked"  # the receiving server refused for now (reputation, rate)
DROPPED = "dropped"  # SendGrid did not try it (its suppression lists, the content)
OPENED = "opened"  # opened by a person (machine opens left out)
MACHINE_OPENED = "machine_opened"
CLICKED = "clicked"  # readers who clicked at least once
CLICKS = "clicks"  # every click
UNSUBSCRIBED = "unsubscribed"
COMPLAINED = "complained"  # marked as spam

#: Figures that count readers, in the order reports show them.
READER_FIGURES = (DELIVERED, DEFERRED, BOUNCED, BLOCKED, DROPPED, OPENED, MACHINE_OPENED, CLICKED,
                  UNSUBSCRIBED, COMPLAINED)
#: Figures also counted per topic of the reader (for each topic's rates).
TOPIC_FIGURES = (DELIVERED, OPENED, CLICKED)


def figure_of(event: dict[str, Any]) -> str | None:
    """The reader figure a SendGrid event counts in, or None (processed, unknown kinds)."""
    kind = str(event.get("event", "")).lower()
    if kind == "bounce":
        return BLOCKED if str(event.get("type", "")).lower() == "blocked" else BOUNCED
    if kind == "open":
        return MACHINE_OPENED if event.get("sg_machine_open") is True else OPENED
    if kind == "click":
        return CLICKED
    if kind in ("unsubscribe", "group_unsubscribe"):
        return UNSUBSCRIBED
    if kind == "spamreport":
        return COMPLAINED
    return {"delivered": DELIVERED, "deferred": DEFERRED, "dropped": DROPPED}.get(kind)
