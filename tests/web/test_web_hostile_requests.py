"""Hostile requests: tokens in other spellings and formats, spoofed proxy headers and
Host, bad-token floods (429 with Retry-After), webhook posts refused before their body
is read, long event ids, and the 500 page's headers."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

import pytest
import redis
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from digest.models import ProviderEvent
from digest.runtime import Runtime
from digest.settings import WebSettings, load_settings
from digest.web import create_app
from digest.web.security import SECURITY_HEADERS
from web_helpers import add_subscriber, path_of, sign, subscriber_state

BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def app_with(runtime: Runtime, **web) -> TestClient:
    settings = runtime.settings
    settings = settings.with_overrides(web=WebSettings(**{**settings.web.__dict__, **web}))
    return TestClient(create_app(Runtime(settings, runtime.engine, runtime.sessions)), follow_redirects=False)


def other_spellings(token: str) -> list[str]:
    """The same signature bytes spelled differently: a 20-byte HMAC is 27 base64
    characters, the last of which carries 4 bits and 2 unused ones."""
    index = BASE64_ALPHABET.index(token[-1])
    return [token[:-1] + BASE64_ALPHABET[index ^ low] for low in (1, 2, 3)]


def test_a_token_in_another_spelling_is_refused(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "spelling@example.com")
    secret = web_runtime.settings.secret_key
    for purpose, url in (("unsubscribe", links.unsubscribe_url(sid)), ("preferences", links.preferences_url(sid))):
        token = url.rsplit("/", 1)[1]
        for other in other_spellings(token):
            # itsdangerous takes every spelling: what this test guards against.
            assert URLSafeSerializer(secret, salt=f"digest.{purpose}").loads(other) == [sid]
            assert client.get(f"/{purpose}/{other}").status_code == 400
            assert client.post(f"/{purpose}/{other}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
        assert client.get(path_of(url)).status_code == 200
    assert subscriber_state(web_runtime, sid)["status"] == "active"


def test_a_token_in_the_timed_format_is_a_400(client, web_runtime):
    sid = add_subscriber(web_runtime, "timed@example.com")
    secret = web_runtime.settings.secret_key
    for purpose in ("unsubscribe", "preferences", "archive"):
        timed = URLSafeTimedSerializer(secret, salt=f"digest.{purpose}").dumps([sid, 1])
        for method in ("GET", "POST"):
            response = client.request(method, f"/{purpose}/{timed}")
            assert (purpose, method, response.status_code) in {(purpose, method, 400), ("archive", "POST", 405)}
    assert subscriber_state(web_runtime, sid)["status"] == "active"


def test_bad_tokens_are_limited_per_client_with_retry_after(web_runtime, links):
    sid = add_subscriber(web_runtime, "reader@example.com")
    with app_with(web_runtime, trusted_proxy_hops=1) as client:
        statuses, retry_after = [], set()
        for n in range(200):
            # The client writes what it likes in front; the trusted proxy appends the address it saw.
            response = client.get(f"/unsubscribe/WzFd.guess{n}",
                                  headers={"X-Forwarded-For": f"10.0.{n % 250}.1, 203.0.113.9"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after.add(int(response.headers["retry-after"]))
                assert response.headers["x-frame-options"] == "DENY"
        assert statuses == [400] * 30 + [429] * 170
        assert retry_after and all(1 <= s <= 600 for s in retry_after)
        # the limited client cannot use even a good link meanwhile; another client can
        proxied = {"X-Forwarded-For": "203.0.113.9"}
        assert client.get(path_of(links.unsubscribe_url(sid)), headers=proxied).status_code == 429
        other = {"X-Forwarded-For": "198.51.100.7"}
        assert client.get(path_of(links.unsubscribe_url(sid)), headers=other).status_code == 200


def test_spoofed_forwarded_for_from_an_untrusted_client_is_ignored(web_runtime):
    with app_with(web_runtime, trusted_proxy_hops=0) as client:
        statuses = [client.get(f"/archive/WzEsMV0.guess{n}",
                               headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(40)]
    assert statuses == [400] * 30 + [429] * 10


def test_requests_per_minute_are_limited_on_token_routes_and_the_webhook(web_runtime, links):
    sid = add_subscriber(web_runtime, "busy@example.com")
    with app_with(web_runtime, token_requests_per_minute=5, webhook_requests_per_minute=3) as client:
        pages = [client.get(path_of(links.preferences_url(sid))).status_code for _ in range(7)]
        posts = [client.post("/webhooks/sendgrid", content=b"[]").status_code for _ in range(5)]
        health = [client.get("/healthz").status_code for _ in range(7)]
    assert pages == [200] * 5 + [429] * 2
    assert posts == [403] * 3 + [429] * 2
    assert health == [200] * 7


def test_bad_tokens_are_counted_in_redis_when_it_is_configured(web_runtime, redis_url):
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    settings = web_runtime.settings.with_overrides(
        redis_url=redis_url, web=WebSettings(namespace=namespace, bad_tokens_per_10_minutes=3))
    store = redis.Redis.from_url(redis_url)
    try:
        for _ in range(2):  # two web processes share the count
            app = create_app(Runtime(settings, web_runtime.engine, web_runtime.sessions))
            with TestClient(app) as client:
                statuses = [client.get("/preferences/WzFd.guess").status_code for _ in range(2)]
            assert statuses in ([400, 400], [400, 429])
        assert statuses == [400, 429]
        assert store.keys(f"{namespace}:web-limits*")
    finally:
        for key in store.scan_iter(f"{namespace}:*"):
            store.delete(key)
        store.close()


def test_redirects_and_pages_never_echo_the_clients_host(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "host@example.com")
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    for path in ("/healthz/", "/unsubscribe/", path_of(links.unsubscribe_url(sid)) + "/",
                 path_of(links.unsubscribe_url(sid)), path_of(links.preferences_url(sid))):
        response = client.get(path, headers=evil)
        assert response.status_code in (200, 404), path
        assert "location" not in response.headers
        assert "evil.example" not in response.text


def test_forwarded_headers_count_only_from_the_trusted_hops():
    from starlette.datastructures import Headers

    from digest.web.proxies import forwarded_client, forwarded_scheme

    headers = Headers({"x-forwarded-for": "6.6.6.6, 10.1.1.1, 10.2.2.2", "x-forwarded-proto": "https"})
    assert forwarded_client(headers, 0) is None and forwarded_scheme(headers, 0) is None
    assert forwarded_client(headers, 1) == "10.2.2.2"
    assert forwarded_client(headers, 2) == "10.1.1.1"
    assert forwarded_client(headers, 4) is None  # fewer entries than proxies: not through them all
    assert forwarded_scheme(headers, 1) == "https"
    assert forwarded_client(Headers({"x-forwarded-for": "not-an-address"}), 1) is None


def test_trusted_proxy_hops_setting():
    base = {"DIGEST_SECRET_KEY": "k" * 20}
    assert load_settings(base, demo=True).web.trusted_proxy_hops == 0
    assert load_settings({**base, "DYNO": "web.1"}, demo=True).web.trusted_proxy_hops == 1  # Heroku
    assert load_settings({**base, "DIGEST_TRUSTED_PROXY_HOPS": "2"}, demo=True).web.trusted_proxy_hops == 2
    assert load_settings({**base, "DIGEST_WEBHOOK_MAX_BYTES": "3000000"}, demo=True).web.webhook_max_bytes == 3_000_000
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="DIGEST_TRUSTED_PROXY_HOPS"):
        load_settings({**base, "DIGEST_TRUSTED_PROXY_HOPS": "many"}, demo=True)


def test_webhook_without_well_formed_signature_headers_is_refused_before_its_body(web_runtime, webhook_private_key):
    app = create_app(web_runtime)
    good = sign(webhook_private_key, b"[]")
    cases = {
        "none": {},
        "no timestamp": {"X-Twilio-Email-Event-Webhook-Signature": good["X-Twilio-Email-Event-Webhook-Signature"]},
        "not base64": {**good, "X-Twilio-Email-Event-Webhook-Signature": "%%%"},
        "too short": {**good, "X-Twilio-Email-Event-Webhook-Signature": "AAAA"},
        "timestamp not a number": {**good, "X-Twilio-Email-Event-Webhook-Timestamp": "soon"},
    }

    async def body_never_read():
        raise AssertionError("the body was read")

    for name, headers in cases.items():
        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/webhooks/sendgrid", "raw_path": b"/webhooks/sendgrid",
                 "query_string": b"", "scheme": "http", "server": ("testserver", 80), "client": ("192.0.2.1", 1),
                 "http_version": "1.1", "root_path": "", "state": {},
                 "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
        asyncio.run(app(scope, body_never_read, send))
        assert sent[0]["status"] == 403, name
        assert (b"connection", b"close") in sent[0]["headers"], name


def test_two_long_event_ids_sharing_a_prefix_are_both_recorded(client, web_runtime, webhook_private_key):
    first, second = "x" * 200 + "-first", "x" * 200 + "-second"
    events = [{"email": "e@example.com", "event": "delivered", "sg_event_id": eid, "timestamp": 1700000000}
              for eid in (first, second, first)]
    body = json.dumps(events).encode()
    response = client.post("/webhooks/sendgrid", content=body, headers=sign(webhook_private_key, body))
    assert response.status_code == 200
    assert response.json()["stored"] == 2 and response.json()["repeat"] == 1
    with web_runtime.session() as session:
        stored = session.scalars(select(ProviderEvent).order_by(ProviderEvent.id)).all()
        assert [e.payload["sg_event_id"] for e in stored] == [first, second]
        assert len({e.event_id for e in stored}) == 2


def test_the_500_page_carries_the_security_headers(web_runtime):
    app = create_app(web_runtime)

    async def broken(request):
        raise RuntimeError("boom")

    app.router.routes.append(Route("/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")
    assert response.status_code == 500
    assert "boom" not in response.text and "Something went wrong" in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_requests_go_through_when_the_rate_limit_store_is_down(web_runtime, links, caplog):
    sid = add_subscriber(web_runtime, "storeless@example.com")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = web_runtime.settings.with_overrides(redis_url=f"redis://127.0.0.1:{port}/0")
    with TestClient(create_app(Runtime(settings, web_runtime.engine, web_runtime.sessions))) as client:
        response = client.post(path_of(links.unsubscribe_url(sid)), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert subscriber_state(web_runtime, sid)["status"] == "unsubscribed"
    assert "rate limit store unavailable" in caplog.text
