"""``GET /archive/{token}``: "view in browser", the body exactly as it was sent.

The stored body keeps its per-recipient tokens and date tokens; they are filled here for
the subscriber the link was made for, so the page's unsubscribe and preferences links are
theirs and its dates are the ones their email showed (the zone of the batch that
delivered this body to them; their current zone if no batch did, e.g. a proof's link).
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..content import fill_dates, fill_tokens
from ..models import Batch, Delivery, RenderedBody, Subscriber
from .context import WebContext, context


async def archive(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token("archive", request.path_params["token"])
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
        if body is None or subscriber is None:
            return None
        values = ctx.links.token_values(subscriber.id, subscriber.email, body.id)
        return fill_dates(fill_tokens(body.html, values), _zone_sent_in(session, subscriber, body.id))


def _zone_sent_in(session, subscriber: Subscriber, body_id: int) -> str:
    """The zone this body's dates were filled in for this subscriber, when it was sent
    (their latest delivery of it): a later move does not change what the email said."""
    sent_in = session.scalar(
        select(Delivery.timezone)
        .join(Batch, Delivery.batch_id == Batch.id)
        .where(Delivery.subscriber_id == subscriber.id, Batch.body_id == body_id)
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    return sent_in or subscriber.timezone
