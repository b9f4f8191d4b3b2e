"""Must show (issue 22): a 2,000-reader edition sent through the SendGrid stand-in, a
recorded day of its events posted to the signed webhook of the web app (repeats and out
of order), and every figure of ``digest report --format json`` equal to counts made here,
independently, from the same events."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from digest.cli import main
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings
from digest.web import create_app

from fakes.edition_seed import TOPIC_SETS, seed_edition
from fakes.fixtures import TEST_API_KEY, fake_sendgrid  # noqa: F401  (fixture)
from fakes.signed_events import public_key_b64, sign
from .recorded_day import OTHER_URL, recorded_day, shuffled_posts

READERS = 2000


@pytest.fixture
def env(db_url, tmp_path, fake_sendgrid, monkeypatch):
    key = ec.generate_private_key(ec.SECP256R1())
    values = {
        "DIGEST_CONFIG": str(bundled_config_path()), "DATABASE_URL": db_url,
        "DIGEST_PROVIDER": "sendgrid", "SENDGRID_API_KEY": TEST_API_KEY, "SENDGRID_API_HOST": fake_sendgrid.url,
        "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key_b64(key), "DIGEST_OUTBOX": str(tmp_path / "outbox"),
        "DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://digest.test",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values, key


def topics_of(subscriber_id: int) -> tuple[str, ...]:
    """The seed's rule: subscriber n follows TOPIC_SETS[(n - 1) % 5]."""
    return TOPIC_SETS[(subscriber_id - 1) % len(TOPIC_SETS)]


def expected_from(events_in_arrival_order: list[dict]) -> dict:
    """The figures, counted from the events with nothing of digest's code."""
    seen: set[str] = set()
    readers: dict[str, set[int]] = defaultdict(set)
    first_day: dict[tuple[str, int], str] = {}
    clicks_by_url: Counter = Counter()
    clicks_by_day: Counter = Counter()
    for e in events_in_arrival_order:
        if e["sg_event_id"] in seen:
            continue
        seen.add(e["sg_event_id"])
        kind = e["event"]
        figure = {
            "delivered": "delivered", "deferred": "deferred", "dropped": "dropped", "click": "clicked",
            "unsubscribe": "unsubscribed", "spamreport": "complained",
            "bounce": "blocked" if e.get("type") == "blocked" else "bounced",
            "open": "machine_opened" if e.get("sg_machine_open") else "opened",
        }.get(kind)
        if figure is None:
            continue
        reader = int(e["subscriber_id"])
        day = datetime.fromtimestamp(e["timestamp"], timezone.utc).date().isoformat()
        readers[figure].add(reader)
        first_day.setdefault((figure, reader), day)
        if kind == "click":
            clicks_by_url[e["url"]] += 1
            clicks_by_day[day] += 1
    days: dict[str, Counter] = defaultdict(Counter)
    for (figure, _), day in first_day.items():
        days[day][figure] += 1
    for day, n in clicks_by_day.items():
        days[day]["clicks"] += n
    figures = {name: len(readers[name]) for name in (
        "delivered", "deferred", "bounced", "blocked", "dropped", "opened", "machine_opened", "clicked",
        "unsubscribed", "complained")}
    figures["clicks"] = sum(clicks_by_url.values())
    figures["sent"] = READERS
    topics = {}
    for slug in sorted({s for group in TOPIC_SETS for s in group}):
        counts = {name: sum(1 for r in readers[name] if slug in topics_of(r)) for name in ("delivered", "opened", "clicked")}
        topics[slug] = {**counts, "open_rate": counts["opened"] / counts["delivered"],
                        "click_rate": counts["clicked"] / counts["delivered"]}
    return {"figures": figures, "days": {d: dict(c) for d, c in days.items()}, "clicks_by_url": clicks_by_url,
            "topics": topics}


def test_a_day_of_events_for_a_2000_reader_edition_is_reported_exactly(env, fake_sendgrid):
    values, key = env
    settings = load_settings(values)
    seed_edition(settings, READERS)
    today = datetime.now(timezone.utc).date()
    sent = CliRunner().invoke(main, ["send", "--date", today.isoformat()])
    assert sent.exit_code == 0, sent.output + str(sent.exception)
    assert len(fake_sendgrid.delivered) == READERS

    item_urls = {n: [f"https://ridgeline.example/b/{slug}" for slug in topics_of(n)] for n in range(1, READERS + 1)}
    for message in fake_sendgrid.delivered[:50]:  # the links clicked are links the email carries
        for url in item_urls[int(message.custom_args["subscriber_id"])]:
            assert url in message.html
    events = recorded_day(fake_sendgrid.delivered, item_urls, datetime.now(timezone.utc).replace(hour=7, minute=0))
    kinds = Counter(e["event"] for e in events)
    assert {"delivered", "deferred", "bounce", "dropped", "open", "click", "unsubscribe", "spamreport"} <= set(kinds)
    assert any(e.get("type") == "blocked" for e in events) and any(e.get("sg_machine_open") for e in events)
    posts = shuffled_posts(events)

    runtime = Runtime.open(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            for post in posts:
                body = json.dumps(post).encode()
                response = client.post("/webhooks/sendgrid", content=body, headers=sign(key, body))
                assert response.status_code == 200, response.text
    finally:
        runtime.close()
    arrival = [e for post in posts for e in post]
    assert len(arrival) > len(events)  # repeats were posted
    expected = expected_from(arrival)

    result = CliRunner().invoke(main, ["report", "--date", today.isoformat(), "--format", "json"])
    assert result.exit_code == 0, result.output + str(result.exception)
    report = json.loads(result.output)
    [edition] = report["editions"]
    got = {name: edition[name] for name in expected["figures"]}
    assert got == expected["figures"]
    f = expected["figures"]
    assert edition["rates"] == pytest.approx({
        "delivery_rate": f["delivered"] / READERS, "bounce_rate": f["bounced"] / READERS,
        "open_rate": f["opened"] / f["delivered"], "click_rate": f["clicked"] / f["delivered"],
        "unsubscribe_rate": f["unsubscribed"] / f["delivered"], "complaint_rate": f["complained"] / f["delivered"],
    })
    assert edition["days"] == expected["days"]
    assert {k: v for k, v in report["totals"].items() if k != "rates"} == expected["figures"]

    top = expected["clicks_by_url"].most_common()
    assert [(i["url"], i["clicks"]) for i in report["top_items"]] == sorted(top, key=lambda p: (-p[1], p[0]))
    titles = {i["url"]: (i["title"], i["kind"]) for i in report["top_items"]}
    assert titles[OTHER_URL] == (None, None)
    assert titles["https://ridgeline.example/b/gold"] == ("Gold today", "briefing")
    assert {t["topic"]: {k: v for k, v in t.items() if k != "topic"} for t in report["topics"]} == expected["topics"]
