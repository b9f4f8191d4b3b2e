"""Per-client request limits on the token routes and the webhook (429 with Retry-After).

Three budgets per client address (:class:`~digest.settings.WebSettings`), counted in fixed
windows by the ``limits`` library, in Redis when ``REDIS_URL`` is set (so every web dyno
shares them) and in this process otherwise (the signup ones then in the database:
:mod:`digest.web.shared_limits`):

* requests to the token routes (unsubscribe, preferences, archive, confirm) a minute;
* links that failed verification, per 10 minutes: someone guessing tokens runs out long
  before a guess could succeed, while a reader with a valid link never spends any;
* posts to the webhook a minute;
* signups (``POST /subscribe``) an hour, counted by :mod:`digest.web.signup` itself, which
  also counts them per email address.

Sized so a reader never meets one: a person clicks a few links, a link scanner fetches a
few per email, SendGrid posts a few times a second. If the store is down the request goes
through (logged): an unsubscribe must never fail because Redis did.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import WebSettings
from .pages import Pages
from .shared_limits import DatabaseWindows

log = logging.getLogger(__name__)

TOKEN_ROUTES = ("/unsubscribe/", "/preferences/", "/archive/", "/confirm/", "/editor/")
WEBHOOK = "/webhooks/sendgrid"
#: Confirmation emails one subscriber can be sent a day, whoever asks for them.
CONFIRMATIONS_PER_DAY = 3
#: Minutes in which a signup sends at most one email to one address, whatever is posted.
SIGNUP_EMAIL_MINUTES = 10


def route_family(path: str) -> str | None:
    if path.startswith(TOKEN_ROUTES):
        return "token"
    if path == WEBHOOK:
        return "webhook"
    return None


def make_storage(redis_url: str | None, namespace: str) -> Storage:
    if not redis_url:
        return MemoryStorage()
    return RedisStorage(f"async+{redis_url}", implementation="redispy", key_prefix=f"{namespace}:web-limits")


#: The limits counted in ``shared`` (the database) when it is given.
SHARED = ("signup", "signup-address", "signup-email", "confirmation")


class RequestLimiter:
    def __init__(self, web: WebSettings, storage: Storage, shared: DatabaseWindows | None = None):
        self._limiter = FixedWindowRateLimiter(storage)
        self._shared = shared
        self._requests = {
            "token": RateLimitItemPerMinute(web.token_requests_per_minute),
            "webhook": RateLimitItemPerMinute(web.webhook_requests_per_minute),
            "signup": RateLimitItemPerHour(web.signup_posts_per_hour),
            "signup-address": RateLimitItemPerHour(web.signup_posts_per_address_per_hour),
        }
        self._bad_tokens = RateLimitItemPerMinute(web.bad_tokens_per_10_minutes, 10)
        self._confirmations = RateLimitItemPerDay(CONFIRMATIONS_PER_DAY)
        self._signup_emails = RateLimitItemPerMinute(1, SIGNUP_EMAIL_MINUTES)

    async def admit(self, family: str, client: str) -> int | None:
        """None to go ahead; else the seconds to tell the client to wait."""
        try:
            if family == "token" and not await self._limiter.test(self._bad_tokens, "bad-token", client):
                return await self._retry_after(self._bad_tokens, "bad-token", client)
            if family in SHARED and self._shared is not None:
                return await self._shared_hit(self._requests[family], family, client)
            if not await self._limiter.hit(self._requests[family], family, client):
                return await self._retry_after(self._requests[family], family, client)
        except Exception as exc:  # the store is down: let the request through
            log.warning("rate limit store unavailable (%s): request allowed", type(exc).__name__)
        return None

    async def bad_token(self, client: str) -> None:
        try:
            await self._limiter.hit(self._bad_tokens, "bad-token", client)
        except Exception as exc:
            log.warning("rate limit store unavailable (%s): bad token not counted", type(exc).__name__)

    async def confirmation_allowed(self, subscriber_id: int) -> bool:
        """Whether one more confirmation email may go to this subscriber today (so a
        forwarded email's preferences link cannot flood the reader's mailbox)."""
        try:
            return await self._hit(self._confirmations, "confirmation", str(subscriber_id))
        except Exception as exc:
            log.warning("rate limit store unavailable (%s): confirmation allowed", type(exc).__name__)
            return True

    async def signup_email_allowed(self, email: str) -> bool:
        """Whether a signup may send ``email`` (canonical) an email now: one per
        :data:`SIGNUP_EMAIL_MINUTES`, so no form, however posted, floods a mailbox."""
        try:
            return await self._hit(self._signup_emails, "signup-email", email)
        except Exception as exc:
            log.warning("rate limit store unavailable (%s): signup email allowed", type(exc).__name__)
            return True

    async def _hit(self, item: RateLimitItem, family: str, identifier: str) -> bool:
        """One hit of a limit that only says yes or no; True: within it."""
        if family in SHARED and self._shared is not None:
            return await self._shared_hit(item, family, identifier) is None
        return await self._limiter.hit(item, family, identifier)

    async def _shared_hit(self, item: RateLimitItem, family: str, identifier: str) -> int | None:
        return await run_in_threadpool(self._shared.hit, item.amount, item.get_expiry(), family, identifier)

    async def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = await self._limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RequestLimiter, pages: Pages):
        self.app = app
        self.limiter = limiter
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        family = route_family(scope["path"]) if scope["type"] == "http" else None
        if family is None:
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        wait = await self.limiter.admit(family, client)
        if wait is not None:
            response = self.pages.message(
                "Too many requests", f"Please try again in {wait} seconds.", 429
            )
            response.headers.update({"retry-after": str(wait), "connection": "close"})
            await response(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, send)
        finally:
            if state.get("bad_token"):
                await self.limiter.bad_token(client)
