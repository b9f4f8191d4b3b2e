"""Editor pages: sign-in with ``DIGEST_EDITOR_TOKEN``, and the report of the last 30
editions with plots drawn on the server (:mod:`digest.report.plots`).

Signing in posts the token once; the browser then holds a session cookie signed with
the token itself (HttpOnly, SameSite=Strict, 12 hours), so changing the token signs every
editor out. A guard holding sending can be released from the page (``/editor/resume``), as
with ``digest resume --force``. Scripts may send ``Authorization: Bearer <token>`` instead. A wrong token
counts against the client's budget of bad links (:mod:`digest.web.rate_limits`). Without
the variable the editor pages do not exist (404).
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime, timezone

from itsdangerous import BadSignature, TimestampSigner
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..report.formats import as_dict
from ..report.guards import release
from ..report.plots import bar_chart, horizontal_bars, line_chart
from ..report.reading import last_editions_period, rates_of, read_report
from ..runtime import Runtime
from .context import context, mark_bad_token

log = logging.getLogger(__name__)

COOKIE = "digest_editor"
SESSION_SECONDS = 12 * 3600
EDITIONS = 30
#: Complaint rates mailbox providers watch: Gmail and Yahoo ask bulk senders to stay
#: under 0.1% and throttle or refuse them above 0.3% (since February 2024).
COMPLAINT_GUIDES = {"0.1%": 0.001, "0.3%": 0.003}


def _signer(token: str) -> TimestampSigner:
    return TimestampSigner(token, salt="digest-editor-session")


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())


def signed_in(request: Request, token: str) -> bool:
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        return _same(authorization[len("Bearer "):], token)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return False
    try:
        _signer(token).unsign(cookie, max_age=SESSION_SECONDS)
        return True
    except BadSignature:
        return False


def _not_here(request: Request) -> Response:
    return context(request).pages.message("Page not found", "There is no page here.", 404)


async def sign_in_page(request: Request) -> Response:
    ctx = context(request)
    if not ctx.runtime.settings.editor_token:
        return _not_here(request)
    return ctx.pages.render("editor_sign_in.html", error=None)


async def sign_in(request: Request) -> Response:
    ctx = context(request)
    token = ctx.runtime.settings.editor_token
    if not token:
        return _not_here(request)
    given = (await request.form()).get("token")
    if not isinstance(given, str) or not _same(given.strip(), token):
        mark_bad_token(request)
        return ctx.pages.render("editor_sign_in.html", 403, error="That is not the editor token.")
    response = RedirectResponse("/editor/report", status_code=303)
    response.set_cookie(COOKIE, _signer(token).sign("editor").decode(), max_age=SESSION_SECONDS, path="/editor",
                        httponly=True, samesite="strict",
                        secure=ctx.runtime.settings.base_url.startswith("https://"))
    return response


def _refused(request: Request) -> Response | None:
    """The answer to a request that is not an editor's (404 without a token configured,
    else to the sign-in page); None for an editor."""
    token = context(request).runtime.settings.editor_token
    if not token:
        return _not_here(request)
    if not signed_in(request, token):
        return RedirectResponse("/editor/sign-in", status_code=303)
    return None


async def report_page(request: Request) -> Response:
    if (refused := _refused(request)) is not None:
        return refused
    ctx = context(request)
    page = await run_in_threadpool(report_context, ctx.runtime)
    return ctx.pages.render("editor_report.html", **page)


async def resume(request: Request) -> Response:
    """The page's "Resume sending": what ``digest resume --force`` does. The session cookie
    is SameSite=Strict, so another site's form cannot post it with an editor's cookie."""
    if (refused := _refused(request)) is not None:
        return refused
    reasons = await run_in_threadpool(_release, context(request).runtime)
    for reason in reasons:
        log.warning("an editor released a guard from the report page: %s", reason)
    return RedirectResponse("/editor/report", status_code=303)


def _release(runtime: Runtime) -> list[str]:
    with runtime.session() as session:
        return release(session, datetime.now(timezone.utc))


def report_context(runtime: Runtime) -> dict:
    with runtime.session() as session:
        period = last_editions_period(session, EDITIONS)
        report = read_report(session, *period) if period else None
    if report is None:
        return {"report": None, "plots": []}
    labels = [e.date.strftime("%m-%d") for e in report.editions]
    rates = [rates_of(e.figures) for e in report.editions]
    figures = [e.figures for e in report.editions]
    plots = [
        ("Sends and delivery per edition", bar_chart(
            "Sent and delivered per edition", labels,
            {"sent": [f["sent"] for f in figures], "delivered": [f["delivered"] for f in figures]})),
        ("Open and click rates", line_chart(
            "Open and click rates per edition", labels,
            {"open rate": [r["open_rate"] for r in rates], "click rate": [r["click_rate"] for r in rates]})),
        ("Complaint rate", line_chart(
            "Complaint rate per edition, against the 0.1% and 0.3% lines", labels,
            {"complaint rate": [r["complaint_rate"] for r in rates]}, guides=COMPLAINT_GUIDES)),
        ("Unsubscribes per edition", bar_chart(
            "Unsubscribes per edition", labels, {"unsubscribed": [f["unsubscribed"] for f in figures]})),
        ("Top clicked items", horizontal_bars(
            "Top clicked items", [(i.title or i.url, i.clicks) for i in report.top_items])),
    ]
    return {"report": as_dict(report), "plots": plots}
