"""A reader's own data, from the preferences page (the signed link is the credential):
``GET /preferences/{token}/data`` downloads everything kept about them as JSON
(:mod:`digest.subscribers.personal_data`); ``POST /preferences/{token}/forget``, sent by the
page's "delete me" button with its confirmation box ticked, erases them
(:mod:`digest.subscribers.forget`). A GET never erases: mail scanners follow links.
"""

from __future__ import annotations

import json
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..models import Subscriber
from ..subscribers.forget import forget
from ..subscribers.personal_data import personal_data
from .context import WebContext, context

log = logging.getLogger(__name__)


async def download_data(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token(request, "preferences")
    if data is None:
        return ctx.invalid_link()
    document = await run_in_threadpool(_data, ctx, data.subscriber_id)
    if document is None:
        return ctx.unknown_subscriber()
    body = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return Response(body, media_type="application/json", headers={
        "content-disposition": 'attachment; filename="my-data.json"'})


async def forget_me(request: Request) -> Response:
    ctx = context(request)
    data = ctx.read_token(request, "preferences")
    if data is None:
        return ctx.invalid_link()
    form = await request.form()
    if form.get("confirm") != "yes":
        return ctx.pages.message("Nothing was deleted",
                                 "Tick the box that says you understand, then press the button again.", 400)
    if not await run_in_threadpool(_forget, ctx, data.subscriber_id):
        return ctx.unknown_subscriber()
    return ctx.pages.message("Your data is deleted",
                             "We erased your address and everything we kept about you. You will get no more "
                             "email from us; you are welcome to sign up again at any time.", 200)


def _data(ctx: WebContext, subscriber_id: int) -> dict | None:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        return personal_data(session, subscriber.email) if subscriber else None


def _forget(ctx: WebContext, subscriber_id: int) -> bool:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return False
        forget(session, ctx.secret, subscriber.email)
    log.info("subscriber %s asked to be forgotten: erased", subscriber_id)
    return True
