"""``GET /archive/{token}``: "view in browser", the body as it was sent, minus the reader.

A web version gets shared and forwarded, so it carries nothing of the reader it was made
for: no address (the footer says "the subscriber"), and its unsubscribe and preferences
links lead to ``/subscription``, a page that only explains that those links live in the
email itself. Only its dates are the reader's: the ones their email showed (the zone of
the batch that delivered this body to them; their current zone if no batch did, e.g. a
proof's link).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..content import fill_tokens
from ..date_tokens import fill_dates
from ..deliver.ledger.reader_rows import in_any_edition
from ..links import LinkMaker
from ..models import Batch, Delivery, RenderedBody, Subscriber
from .context import WebContext, context


async def archive(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token(request, "archive")
    if data is None:
        return ctx.invalid_link()
    html = await run_in_threadpool(_filled_body, ctx, data.subscriber_id, data.body_id)
    if html is None:
        return ctx.pages.message(
            "Email not found", "We could not find this email. It may have been removed from the archive.", 404
        )
    return HTMLResponse(html)


def _filled_body(ctx: WebContext, subscriber_id: int, body_id: int | None) -> str | None:
    if not body_id:
        return None
    with ctx.runtime.session() as session:
        body = session.get(RenderedBody, body_id)
        subscriber = session.get(Subscriber, subscriber_id)
        if body is None or body.html is None or subscriber is None:  # html None: pruned ([review] keep_bodies)
            return None
        values = public_token_values(ctx.links, ctx.links.archive_url(subscriber.id, body.id))
        zone, sent_at = _zone_sent_in(session, subscriber, body.id)
        return fill_dates(fill_tokens(body.html, values), zone, sent_at)


def _zone_sent_in(session, subscriber: Subscriber, body_id: int) -> tuple[str, datetime | None]:
    """The zone this body's dates were filled in for this subscriber, and when it was
    sent (their latest delivery of it; the heading shows that day): a later move does not
    change what the email said."""
    sent = session.execute(
        select(Delivery.timezone, Delivery.sent_at)
        .join(Batch, Delivery.batch_id == Batch.id)
        .where(in_any_edition(session), Delivery.subscriber_id == subscriber.id, Batch.body_id == body_id)
        .order_by(Delivery.id.desc())
        .limit(1)
    ).first()
    if sent is None:
        return subscriber.timezone, None
    return sent[0] or subscriber.timezone, sent[1]


#: What the web version says where the email named its reader.
PUBLIC_READER = "the subscriber"


def public_token_values(links: LinkMaker, web_version_url: str) -> dict[str, str]:
    """The values of a web version's tokens: no address, no per-reader link that acts
    (its own "view in browser" link is ``web_version_url``)."""
    subscription = f"{links.base_url}/subscription"
    return {
        "unsubscribe_url": subscription,
        "preferences_url": subscription,
        "archive_url": web_version_url,
        "email": PUBLIC_READER,
    }


async def subscription_links(request: Request) -> Response:
    """Where a web version's unsubscribe and preferences links lead: it asks for nothing."""
    return context(request).pages.message(
        "Unsubscribe or change your topics",
        "This page is the web version of an email, which anyone can see if it is shared, so its "
        "links change no one's subscription. To unsubscribe or change what you receive, use the "
        "links at the bottom of the email itself.",
        200,
    )
