"""One-click unsubscribe (RFC 8058, RFC 2369).

``GET`` only shows a confirm button: mail scanners and link previewers fetch every URL in
a message, so a GET that unsubscribed would unsubscribe people who never asked.

``POST`` unsubscribes at once and answers 200 with a short page, never a redirect. Mailbox
providers send ``List-Unsubscribe=One-Click`` (urlencoded or multipart) with no cookies;
our confirm form sends the same field. The signed token in the URL is the credential, so
any POST to a valid token unsubscribes, whatever its body: one code path for both, and a
provider that posts a slightly different body still gets the subscriber removed. The body
is bounded (``WebSettings.unsubscribe_max_bytes``, 1 KiB; a multipart one-click body is
about 200 bytes): a larger one is refused with 413 before it is read.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..models import ConsentEvent, Subscriber, SubscriberStatus
from ..report.counting import count_own_unsubscribe
from ..subscribers.consent import Evidence, record_consent
from ..suppression import suppress
from .context import WebContext, context, evidence_of

log = logging.getLogger(__name__)


async def unsubscribe_page(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token(request, "unsubscribe")
    if data is None:
        return ctx.invalid_link()
    email = await run_in_threadpool(_subscriber_email, ctx, data.subscriber_id)
    if email is None:
        return ctx.unknown_subscriber(200)
    return ctx.pages.render("unsubscribe_confirm.html", email=email, action=request.url.path,
                            preferences_url=ctx.links.preferences_url(data.subscriber_id))


async def unsubscribe(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token(request, "unsubscribe")
    if data is None:
        return ctx.invalid_link()
    await request.body()  # drained, not needed: see the module docstring
    result = await run_in_threadpool(_unsubscribe, ctx, data.subscriber_id,
                                     evidence_of(request, "one-click unsubscribe link"))
    if result is None:
        return ctx.unknown_subscriber(200)
    email, status = result
    return ctx.pages.render(
        "unsubscribed.html",
        email=email,
        status=status,
        preferences_url=ctx.links.preferences_url(data.subscriber_id),
    )


def _subscriber_email(ctx: WebContext, subscriber_id: int) -> str | None:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        return subscriber.email if subscriber else None


def _unsubscribe(ctx: WebContext, subscriber_id: int, evidence: Evidence) -> tuple[str, str] | None:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return None
        if suppress(subscriber, SubscriberStatus.UNSUBSCRIBED):
            record_consent(session, subscriber_id, ConsentEvent.UNSUBSCRIBE, evidence)
            count_own_unsubscribe(session, subscriber_id)  # the report's figure, same transaction
            log.info("subscriber %s unsubscribed by link", subscriber_id)
        return subscriber.email, subscriber.status
