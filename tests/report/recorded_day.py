"""A recorded day of SendGrid events for the messages an edition really sent (read from
the SendGrid stand-in), made by a seeded random draw: what each reader's mail did, and
each event as SendGrid posts it (custom args at the top level, its own id, a time)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

#: A link in every email that is no item of ours (clicks on it count, with no title).
OTHER_URL = "https://ridgeline.example/about"


def recorded_day(messages, item_urls: dict[int, list[str]], sent_at: datetime, seed: int = 22) -> list[dict]:
    """Events for ``messages`` (:class:`DeliveredMessage`), in the order they happened.
    ``item_urls`` gives each subscriber id the item links their email carried."""
    rng = random.Random(seed)
    events: list[dict] = []
    serial = 0

    def add(message, kind: str, after_hours: float, **extra) -> None:
        nonlocal serial
        serial += 1
        events.append({
            "email": message.to, "event": kind, "sg_event_id": f"ev{serial:06d}-{rng.getrandbits(32):08x}",
            "sg_message_id": f"{message.message_id}.recvd-{serial}",
            "timestamp": int((sent_at + timedelta(hours=after_hours)).timestamp()),
            **message.custom_args, **extra,
        })

    for message in messages:
        reader = int(message.custom_args["subscriber_id"])
        fate = rng.random()
        add(message, "processed", 0.0)
        if fate < 0.02:
            add(message, "bounce", 0.1, type="bounce", reason="550 5.1.1 no such user")
            continue
        if fate < 0.03:
            add(message, "bounce", 0.1, type="blocked", reason="421 try again later")
            continue
        if fate < 0.04:
            add(message, "dropped", 0.0, reason="Bounced Address")
            continue
        if rng.random() < 0.1:
            for n in range(rng.choice((1, 2))):
                add(message, "deferred", 0.2 + n, response="451 greylisted")
        add(message, "delivered", 1.5)
        opening = rng.random()
        if opening < 0.25:  # Apple Mail Privacy Protection: fetched, not read
            add(message, "open", 1.6, sg_machine_open=True)
        if 0.2 < opening < 0.65:  # read by a person, once or more, some the next day
            for _ in range(rng.choice((1, 1, 2, 3))):
                add(message, "open", rng.choice((2.0, 5.0, 20.0, 30.0)), sg_machine_open=False)
            if rng.random() < 0.35:
                for _ in range(rng.choice((1, 2))):
                    url = rng.choice(item_urls[reader] + [OTHER_URL])
                    add(message, "click", rng.choice((2.5, 21.0)), url=url)
        if rng.random() < 0.01:
            add(message, "unsubscribe", 3.0)
        if rng.random() < 0.004:
            add(message, "spamreport", 4.0)
    return events


def shuffled_posts(events: list[dict], seed: int = 23, size: int = 1000) -> list[list[dict]]:
    """Posts as SendGrid makes them on a bad day: out of order, some posted twice whole,
    and some events repeated inside later posts."""
    rng = random.Random(seed)
    order = events[:]
    rng.shuffle(order)
    posts = [order[start:start + size] for start in range(0, len(order), size)]
    retried = [posts[n] for n in rng.sample(range(len(posts)), 3)]
    for post in posts[1:]:
        post.extend(rng.sample(posts[0], 20))  # events of an earlier post, again
    return posts + retried
