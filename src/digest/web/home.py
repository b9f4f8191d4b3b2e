"""``/``, the publication's home: the signup form and the latest editions, each a link to
``/editions/{id}``, that edition's public web version.

A public web version is the all-topics body of the edition, selected and rendered as a new
reader of every topic in the publication's default zone would have got it on that date
(readers' bodies differ by topic, so none of theirs stands for the edition). It is filled
like :mod:`digest.web.archive` fills a reader's web version, but for no reader at all: no
address, unsubscribe and preferences links to ``/subscription``, no signed token. Only
editions that were sent (a batch of theirs went out) are listed or shown: a draft waiting
for approval is not public.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import exists, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..content import fill_tokens
from ..errors import DigestError
from ..models import Batch, BatchStatus, Edition
from ..preview.build import edition_moment
from ..render import Renderer
from ..select import Selector
from .archive import public_token_values
from .context import WebContext, context
from .signup import PAGE_CSP, form_context

log = logging.getLogger(__name__)

#: How many editions the home page lists.
LATEST = 10


async def home(request: Request) -> Response:
    ctx = context(request)
    editions = await run_in_threadpool(latest_editions, ctx)
    response = ctx.pages.render(
        "home.html",
        editions=[(f"/editions/{edition_id}", _label(day)) for edition_id, day in editions],
        error=None,
        **form_context(ctx),
    )
    response.headers["content-security-policy"] = PAGE_CSP
    return response


async def edition_page(request: Request) -> Response:
    ctx = context(request)
    html = await run_in_threadpool(public_web_version, ctx, request.path_params["edition_id"])
    if html is None:
        return ctx.pages.message("Edition not found", "There is no published edition at this address.", 404)
    return HTMLResponse(html)


def _sent(edition_id_column):
    return exists().where(Batch.edition_id == edition_id_column, Batch.status == BatchStatus.SENT)


def latest_editions(ctx: WebContext, limit: int = LATEST) -> list[tuple[int, date]]:
    """The newest sent editions, newest first: (id, date)."""
    with ctx.runtime.session() as session:
        rows = session.execute(
            select(Edition.id, Edition.date).where(_sent(Edition.id))
            .order_by(Edition.date.desc(), Edition.id.desc()).limit(limit)
        ).all()
    return [(row[0], row[1]) for row in rows]


def public_web_version(ctx: WebContext, edition_id: int) -> str | None:
    """The edition's all-topics body for no reader; None when no sent edition has this id
    or its content cannot be shown any more (e.g. strict mode blocks an item now)."""
    settings = ctx.runtime.settings
    config = settings.config
    zone = config.schedule.default_timezone
    with ctx.runtime.session() as session:
        edition = session.execute(
            select(Edition.date).where(Edition.id == edition_id, _sent(Edition.id))
        ).first()
        if edition is None:
            return None
        day, now = edition_moment(edition[0], zone, config.schedule.default_send_hour)
        try:
            selection = Selector(session, config, now).for_topics((), day)
            rendered = Renderer(config).render(selection).dated(zone, now)
        except DigestError as exc:
            log.warning("edition %s: no public web version: %s", edition_id, exc)
            return None
    web_version = f"{ctx.links.base_url}/editions/{edition_id}"
    return fill_tokens(rendered.html, public_token_values(ctx.links, web_version))


def _label(day: date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"
