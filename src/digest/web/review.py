"""The review page (``/editor/review``), behind the editor sign-in (:mod:`.editor`): a drafted
edition's bodies (topic set, readers, size, subject and preheader as an inbox shows them,
the email checklist's result on each, a link to view each), who approved what and when,
the proofs sent, and the buttons: Approve (with the fingerprint the page showed: refused
when the snapshot changed since; while a check fails, only with "approve despite" ticked),
Hold, Resume, Redraft, Cancel. Every button is a POST carrying a token signed for this
editor session (:func:`form_token`), on top of the SameSite=Strict session cookie.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone

from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..content import fill_tokens
from ..date_tokens import fill_dates
from ..models import DraftBody, RenderedBody
from ..review.approval import ReviewError, approve
from ..review.controls import cancel, hold, redraft, resume
from ..review.summary import edition_day, review_context
from .archive import public_token_values
from .context import context
from .editor import SESSION_SECONDS, _refused

log = logging.getLogger(__name__)

ACTIONS = ("approve", "hold", "resume", "redraft", "cancel")
EDITOR = "an editor (review page)"


def form_token(token: str) -> str:
    return TimestampSigner(token, salt="digest-review-form").sign("review").decode()


def _form_token_ok(given, token: str) -> bool:
    try:
        TimestampSigner(token, salt="digest-review-form").unsign(given or "", max_age=SESSION_SECONDS)
        return True
    except BadSignature:
        return False


async def review_page(request: Request) -> Response:
    if (refused := _refused(request)) is not None:
        return refused
    ctx = context(request)
    day = edition_day(ctx.runtime, request.query_params.get("date"))
    if day is None:
        return ctx.pages.message("Not a date", "The date must be written YYYY-MM-DD.", 400)
    page = await run_in_threadpool(review_context, ctx.runtime, day)
    return ctx.pages.render("editor_review.html", **page, error=None,
                            form_token=form_token(ctx.runtime.settings.editor_token))


async def review_body(request: Request) -> Response:
    """One drafted body as the publication's zone sees it today, with no reader in it."""
    if (refused := _refused(request)) is not None:
        return refused
    ctx = context(request)
    html = await run_in_threadpool(_body_html, ctx, request.path_params["body_id"])
    if html is None:
        return ctx.pages.message("Page not found", "There is no such body.", 404)
    return HTMLResponse(html)


def _body_html(ctx, draft_body_id: int) -> str | None:
    with ctx.runtime.sessions() as session:
        body = session.scalars(select(RenderedBody).join(DraftBody, DraftBody.body_id == RenderedBody.id)
                               .where(DraftBody.id == draft_body_id)).first()
        if body is None or body.html is None:  # html None: pruned ([review] keep_bodies)
            return None
        values = public_token_values(ctx.links, f"{ctx.runtime.settings.base_url}/editor/review/body/{draft_body_id}")
        return fill_dates(fill_tokens(body.html, values), ctx.runtime.settings.config.schedule.default_timezone,
                          datetime.now(timezone.utc))


async def review_action(request: Request) -> Response:
    if (refused := _refused(request)) is not None:
        return refused
    ctx = context(request)
    action = request.path_params["action"]
    form = await request.form()
    day = edition_day(ctx.runtime, form.get("date") if isinstance(form.get("date"), str) else None)
    token = ctx.runtime.settings.editor_token
    if action not in ACTIONS or day is None or not _form_token_ok(form.get("form_token"), token):
        return ctx.pages.message("Not done", "This form is not one of the review page's, or it is too old: "
                                 "open the review page again.", 400)
    fingerprint = form.get("fingerprint") if isinstance(form.get("fingerprint"), str) else ""
    despite = form.get("despite") == "yes"
    try:
        await run_in_threadpool(_act, ctx, action, day, fingerprint, despite)
    except ReviewError as exc:
        page = await run_in_threadpool(review_context, ctx.runtime, day)
        return ctx.pages.render("editor_review.html", 409, **page, error=str(exc), form_token=form_token(token))
    log.warning("edition %s: %s from the review page", day, action)
    return RedirectResponse(f"/editor/review?date={day}", status_code=303)


def _act(ctx, action: str, day: date, fingerprint: str, despite: bool) -> None:
    runtime, now = ctx.runtime, datetime.now(timezone.utc)
    if action == "redraft":
        from ..review.draft import seed_provider

        with seed_provider(runtime.settings) as provider:
            redraft(runtime, day, by=EDITOR, now=now, provider=provider)
    elif action == "cancel":
        cancel(runtime, day, by=EDITOR, now=now)
    else:
        with runtime.sessions() as session:
            if action == "approve":
                approve(session, day, by=EDITOR, now=now, fingerprint=fingerprint or "-", despite=despite)
            elif action == "hold":
                hold(session, day, by=EDITOR, now=now)
            else:
                resume(session, day)
