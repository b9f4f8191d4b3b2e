"""Ambiguous batches settled by SendGrid's own events, posted signed to ``digest web``.

The stand-in records one batch's request and then drops the connection (the mail went,
the answer was lost), and drops another batch's request before accepting it (nothing
went). Events are posted for the first batch's readers only, built from what the
stand-in delivered (SendGrid's events carry our ``custom_args`` as top-level fields).
The worker's follow-up runs on a simulated clock.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from digest.deliver.edition import send_edition
from digest.deliver.providers.factory import make_provider
from digest.deliver.ledger import record_last_digests
from digest.deliver.ledger.settlement import follow_up_ambiguous
from digest.models import Batch, Delivery, Subscriber
from digest.runtime import Runtime
from digest.schedule.lock import DatabaseLock
from digest.schedule.status import collect_status, format_status
from web_helpers import sign

from fakes.edition_seed import read, seed_edition
from fakes.fixtures import TEST_API_KEY, fake_sendgrid  # noqa: F401

#: Today's edition: ``digest status`` shows the editions from yesterday to tomorrow of the
#: moment it is asked (this test once fixed the date, and failed once that day was past).
DAY = datetime.now(timezone.utc).date()
TOPIC_SETS = (("lithium",), ("gold",), ("lithium", "gold"))  # three bodies, three batches of 5
EVENT_TIME = 1_796_000_000  # 2026-11-30, in SendGrid's seconds


def _runtime(web_runtime: Runtime, fake, mode: str) -> Runtime:
    config = web_runtime.settings.config
    config = config.model_copy(update={"delivery": config.delivery.model_copy(update={"ambiguous": mode})})
    settings = web_runtime.settings.with_overrides(provider="sendgrid", sendgrid_api_key=TEST_API_KEY,
                                                   sendgrid_api_host=fake.url, config=config)
    return Runtime(settings, web_runtime.engine, web_runtime.sessions)


def _send(runtime: Runtime) -> None:
    provider = make_provider(runtime.settings)
    try:
        send_edition(runtime, provider, DAY)
    finally:
        provider.close()


def _event(message, kind: str, number: int, **extra) -> dict:
    return {"email": message.to, "event": kind, "sg_event_id": f"ev-{number}", "timestamp": EVENT_TIME,
            "sg_message_id": f"{message.message_id}.filterdrecv-1-{number}", **message.custom_args, **extra}


def _ledger(runtime: Runtime) -> dict[str, tuple]:
    rows = read(runtime.settings, select(Subscriber.email, Delivery.status, Delivery.settled_by, Delivery.batch_id)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id))
    return {email.lower(): (status, settled_by, batch_id) for email, status, settled_by, batch_id in rows}


@pytest.mark.parametrize("mode", ["resend-after-wait", "ask"])
def test_events_settle_an_ambiguous_batch_and_the_rest_wait_or_are_resent_once(
        client, web_runtime, webhook_private_key, fake_sendgrid, mode):
    runtime = _runtime(web_runtime, fake_sendgrid, mode)
    emails = [e.lower() for e in seed_edition(runtime.settings, 15, topic_sets=TOPIC_SETS)]
    fake_sendgrid.pass_next()
    fake_sendgrid.lose_answer_next()  # batch 2: delivered, answer lost
    fake_sendgrid.drop_next()  # batch 3: never accepted
    _send(runtime)
    ledger = _ledger(runtime)
    lost, dropped = ({e for e, (status, _, batch) in ledger.items() if status == "ambiguous" and batch == n}
                     for n in (2, 3))
    assert len(lost) == len(dropped) == 5 and len(fake_sendgrid.delivered) == 10

    # SendGrid's events for the lost answer: four processed, one dropped (a known bounce).
    messages = sorted((m for m in fake_sendgrid.delivered if m.to.lower() in lost), key=lambda m: m.to)
    events = [_event(m, "processed", n) for n, m in enumerate(messages[:4])]
    events.append(_event(messages[4], "dropped", 4, reason="Bounced Address"))
    body = json.dumps(events).encode()
    answer = client.post("/webhooks/sendgrid", content=body, headers=sign(webhook_private_key, body))
    assert answer.status_code == 200 and answer.json()["settled"] == 5

    ledger = _ledger(runtime)
    refused = messages[4].to.lower()
    for n, message in enumerate(messages[:4]):
        assert ledger[message.to.lower()][:2] == ("sent", f"sendgrid:processed:ev-{n}")
    assert ledger[refused][:2] == ("failed", "sendgrid:dropped:ev-4")
    assert {ledger[e][0] for e in dropped} == {"ambiguous"}
    statuses = dict(read(runtime.settings, select(Batch.number, Batch.status)))
    assert statuses == {1: "sent", 2: "sent", 3: "ambiguous"}  # batch 2 settled by evidence alone
    with runtime.session() as session:
        record_last_digests(session)
    last = dict(read(runtime.settings, select(Subscriber.email, Subscriber.last_digest_at)))
    assert {last[m.to] for m in messages[:4]} == {datetime.fromtimestamp(EVENT_TIME, timezone.utc)}

    claimed_at = read(runtime.settings, select(Batch.claimed_at).where(Batch.number == 3))[0][0]
    now = datetime.now(timezone.utc)
    text = format_status(collect_status(runtime, DatabaseLock(runtime, "status"), now))
    assert "settled by provider events: 5 reader(s)" in text
    resend_at = (claimed_at + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%SZ")
    if mode == "ask":
        assert "5 reader(s) waiting" in text and f"digest send --resend-ambiguous --date {DAY}" in text
    else:
        assert f"5 reader(s) waiting (ambiguous: may or may not have gone out): settled by SendGrid events as " \
               f"they arrive; readers still unaccounted for are resent once by the worker from {resend_at}" in text

    delivery = runtime.settings.config.delivery
    with runtime.sessions() as session:
        early = follow_up_ambiguous(session, delivery, "sendgrid", now=claimed_at + timedelta(minutes=29))
        late = follow_up_ambiguous(session, delivery, "sendgrid", now=claimed_at + timedelta(minutes=31))
    assert early.resent == []
    assert late.resent == ([] if mode == "ask" else [read(runtime.settings, select(Batch.id).where(Batch.number == 3))[0][0]])
    _send(runtime)  # the next send (the worker's tick): pending batches go out

    counts = Counter(m.to.lower() for m in fake_sendgrid.delivered)
    if mode == "ask":
        assert {_ledger(runtime)[e][0] for e in dropped} == {"ambiguous"}
        assert counts == Counter({e: 1 for e in set(emails) - dropped})
    else:
        assert {_ledger(runtime)[e][:2] for e in dropped} == {("sent", None)}
        assert counts == Counter({e: 1 for e in emails})  # nobody twice: evidence, then one resend
        with runtime.sessions() as session:  # resent once only, however long it waits
            assert follow_up_ambiguous(session, delivery, "sendgrid", now=now + timedelta(days=1)).resent == []
    # SMTP and the outbox have no events: their ambiguous readers always wait for an operator.
    with runtime.sessions() as session:
        assert follow_up_ambiguous(session, delivery, "smtp", now=now + timedelta(days=1)).resent == []


def test_an_event_that_comes_before_the_batch_is_marked_ambiguous_settles_it_later(
        client, web_runtime, webhook_private_key, fake_sendgrid):
    runtime = _runtime(web_runtime, fake_sendgrid, "resend-after-wait")
    seed_edition(runtime.settings, 5, topic_sets=TOPIC_SETS[:1])
    fake_sendgrid.lose_answer_next()
    _send(runtime)
    message = fake_sendgrid.delivered[0]
    # As if the event had come while the batch was still 'sending': stored, tied, not settled.
    with runtime.session() as session:
        session.execute(Delivery.__table__.update().values(status="queued"))
        session.execute(Batch.__table__.update().values(status="sending"))
    body = json.dumps([_event(message, "delivered", 9)]).encode()
    answer = client.post("/webhooks/sendgrid", content=body, headers=sign(webhook_private_key, body))
    assert answer.status_code == 200 and answer.json()["settled"] == 0
    with runtime.session() as session:
        session.execute(Delivery.__table__.update().values(status="ambiguous"))
        session.execute(Batch.__table__.update().values(status="ambiguous"))
        report = follow_up_ambiguous(session, runtime.settings.config.delivery, "sendgrid")
    assert report.settled == 1
    assert _ledger(runtime)[message.to.lower()][:2] == ("sent", "sendgrid:delivered:ev-9")
