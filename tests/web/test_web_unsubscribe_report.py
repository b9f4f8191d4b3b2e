"""Unsubscribes through digest's own one-click page (from the email, or from the
preferences page's link) count in the report: for the edition of the reader's latest
sent delivery at that moment, once per reader, whichever way they arrive."""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import date, datetime, timezone

from sqlalchemy import select

from digest.models import Delivery, Edition, EditionCounter
from digest.web.sendgrid_events import record_events

from web_helpers import add_subscriber, path_of

ONE_CLICK = {"content": "List-Unsubscribe=One-Click", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


def unsubscribed_by_edition(runtime) -> Counter:
    with runtime.session() as session:
        rows = session.execute(select(EditionCounter.edition_id, EditionCounter.count)
                               .where(EditionCounter.figure == "unsubscribed", EditionCounter.item == "")).all()
    totals: Counter = Counter()
    for edition, count in rows:  # one row per edition and day
        totals[edition] += count
    return totals


def test_own_unsubscribes_count_for_the_latest_sent_edition_once_per_reader(client, web_runtime, links):
    a = add_subscriber(web_runtime, "a@example.com")
    b = add_subscriber(web_runtime, "b@example.com")
    never_sent = add_subscriber(web_runtime, "c@example.com")
    with web_runtime.session() as session:
        session.add_all([Edition(id=n, date=date(2026, 12, n), slot="daily") for n in (1, 2, 3)])
        session.add_all([
            Delivery(edition_id=1, subscriber_id=a, batch_id=1, status="sent", sent_at=datetime(2026, 12, 1, 7, tzinfo=timezone.utc)),
            Delivery(edition_id=2, subscriber_id=a, batch_id=2, status="sent", sent_at=datetime(2026, 12, 2, 7, tzinfo=timezone.utc)),
            Delivery(edition_id=3, subscriber_id=a, batch_id=3, status="queued"),  # not sent: not the one
            Delivery(edition_id=1, subscriber_id=b, batch_id=1, status="sent", sent_at=datetime(2026, 12, 1, 7, tzinfo=timezone.utc)),
        ])

    # a: the one-click link of the email, posted twice: edition 2 (the latest sent), once.
    path = path_of(links.unsubscribe_url(a))
    assert client.post(path, **ONE_CLICK).status_code == 200
    assert client.post(path, **ONE_CLICK).status_code == 200
    assert unsubscribed_by_edition(web_runtime) == Counter({2: 1})

    # b: from the preferences page, through its unsubscribe link and the confirm button.
    page = client.get(path_of(links.preferences_url(b)))
    assert page.status_code == 200
    [link] = {html.unescape(u) for u in re.findall(r'href="(https://digest\.test/unsubscribe/[^"]+)"', page.text)}
    assert client.post(path_of(link), content="", headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 200
    assert unsubscribed_by_edition(web_runtime) == Counter({2: 1, 1: 1})

    # SendGrid's own unsubscribe event for a in edition 2 does not count a second time.
    record_events(web_runtime, [{"sg_event_id": "u-a-2", "event": "unsubscribe", "email": "a@example.com",
                                 "timestamp": 1764662400, "edition_id": "2", "batch_id": "2",
                                 "subscriber_id": str(a)}])
    assert unsubscribed_by_edition(web_runtime) == Counter({2: 1, 1: 1})

    # A reader never sent an edition is unsubscribed, and counted nowhere.
    assert client.post(path_of(links.unsubscribe_url(never_sent)), **ONE_CLICK).status_code == 200
    assert unsubscribed_by_edition(web_runtime) == Counter({2: 1, 1: 1})
