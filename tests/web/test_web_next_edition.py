"""End to end: events arriving at the web process keep the next edition away from the address.

Uses the delivery tests' recording provider, selector and renderer (``tests/deliver``).
"""

from __future__ import annotations

import json
from datetime import timedelta

from deliver.conftest import EDITION, NOW, CountingRenderer, FakeSelector, RecordingProvider
from digest.deliver.edition import send_edition
from web_helpers import add_subscriber, path_of, sign, subscriber_state


def send(runtime, provider, day: int):
    return send_edition(
        runtime, provider, EDITION + timedelta(days=day), now=NOW + timedelta(days=day),
        selector=FakeSelector(), renderer=CountingRenderer(),
    )


def test_suppressed_by_webhook_or_link_the_next_edition_skips_them(client, web_runtime, links, webhook_private_key):
    ids = {name: add_subscriber(web_runtime, f"{name}@example.com")
           for name in ("bouncer", "complainer", "leaver", "stayer")}
    first = RecordingProvider()
    send(web_runtime, first, 0)
    assert sorted(first.emails) == sorted(f"{name}@example.com" for name in ids)

    events = [
        {"email": "bouncer@example.com", "event": "bounce", "type": "bounce", "sg_event_id": "b-1",
         "custom_args": {"edition_id": str(first.sent[0].edition_id), "batch_id": str(first.sent[0].batch_id)}},
        {"email": "complainer@example.com", "event": "spamreport", "sg_event_id": "s-1"},
    ]
    body = json.dumps(events).encode()
    assert client.post("/webhooks/sendgrid", content=body, headers=sign(webhook_private_key, body)).status_code == 200
    one_click = client.post(path_of(links.unsubscribe_url(ids["leaver"])), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert subscriber_state(web_runtime, ids["bouncer"])["status"] == "bounced"

    second = RecordingProvider()
    summary = send(web_runtime, second, 1)
    assert second.emails == ["stayer@example.com"]
    assert summary.skipped["suppressed"] == 3
