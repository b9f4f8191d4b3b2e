"""``digest preview --serve``'s review page (``/review?date=D``): a drafted edition's bodies
(subject and preheader as an inbox shows them, topic set, readers, size, the email
checklist's result), its approvals, and an Approve button that records the approval with
the fingerprint the page showed (while a check fails, only with "approve despite" ticked).

The preview server listens on 127.0.0.1 only, but any site the editor's browser opens could
post to it: the Approve form carries a token made when the server started, and a post
whose ``Origin`` (or ``Sec-Fetch-Site``) says it came from another site is refused.
"""

from __future__ import annotations

import getpass
import hmac
import secrets
from datetime import date, datetime, timezone
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..review.approval import ReviewError, approve
from ..review.summary import edition_day, review_context
from ..runtime import Runtime


def _editor() -> str:
    try:
        return f"{getpass.getuser()} (preview)"
    except (KeyError, OSError):
        return "an editor (preview)"


def review_routes(runtime: Runtime) -> list[Route]:
    form_token = secrets.token_urlsafe(24)  # this server's, for its own forms only

    def day_of(value: str | None) -> date | None:
        return edition_day(runtime, value)

    def page(request: Request) -> Response:
        day = day_of(request.query_params.get("date"))
        if day is None:
            return HTMLResponse("<p>The date must be written YYYY-MM-DD.</p>", 400)
        return HTMLResponse(review_page(review_context(runtime, day), form_token))

    async def approve_post(request: Request) -> Response:
        origin = request.headers.get("origin")
        same = f"{request.url.scheme}://{request.url.netloc}"
        if (origin is not None and origin != same) or request.headers.get("sec-fetch-site") not in (None, "same-origin"):
            return HTMLResponse("<p>Refused: this form was posted from another site.</p>", 403)
        form = await request.form()
        day = day_of(form.get("date") if isinstance(form.get("date"), str) else None)
        given = form.get("form_token")
        if day is None or not isinstance(given, str) or not hmac.compare_digest(given, form_token):
            return HTMLResponse("<p>This form is not this preview server's: open the review page again.</p>", 400)
        fingerprint = form.get("fingerprint") if isinstance(form.get("fingerprint"), str) else "-"
        try:
            with runtime.sessions() as session:
                approve(session, day, by=_editor(), now=datetime.now(timezone.utc), fingerprint=fingerprint,
                        despite=form.get("despite") == "yes")
        except ReviewError as exc:
            return HTMLResponse(review_page(review_context(runtime, day), form_token, error=str(exc)), 409)
        return RedirectResponse(f"/review?date={day}", status_code=303)

    return [Route("/review", page, methods=["GET"]), Route("/approve", approve_post, methods=["POST"])]


def review_page(ctx: dict, form_token: str, error: str | None = None) -> str:
    day, snapshot = ctx["day"], ctx["snapshot"]
    parts = [f'<!doctype html><html lang="en"><meta charset="utf-8"><title>Review {day}</title>'
             '<body style="font:14px/1.4 system-ui,sans-serif;margin:1rem 2rem">',
             f'<h1>Edition of {day}</h1><p><a href="/">Back to the preview</a></p>',
             f'<form method="get" action="/review"><label>Another date <input type="date" name="date" value="{day}">'
             '</label> <button type="submit">Show</button></form>']
    if error:
        parts.append(f'<p id="error" role="alert" style="background:#fde8e8;padding:.5rem">{escape(error)}</p>')
    if snapshot is None:
        parts.append(f'<p id="state">Not drafted yet: <code>digest draft --date {day}</code> drafts it.</p>')
    else:
        state = (f'<strong id="waiting">Not approved: {escape(ctx["waiting"])}.</strong>' if ctx["waiting"]
                 else '<strong id="approved">Approved.</strong>')
        parts.append(f'<p>Snapshot v{snapshot.version}, drafted {snapshot.taken_at:%Y-%m-%d %H:%M}Z; fingerprint '
                     f'<code>{snapshot.fingerprint[:12]}</code>. {state}</p>')
        parts.append('<table id="bodies"><tr><th>topics</th><th>readers</th><th>size</th>'
                     '<th>subject and preheader, as an inbox shows them</th><th>checklist</th></tr>')
        for b in ctx["bodies"]:
            parts.append(f"<tr><td>{escape(b.topics)}</td><td>{b.readers}</td><td>{b.html_bytes} bytes</td>"
                         f"<td><strong>{escape(b.subject)}</strong> — {escape(b.preheader)}</td>"
                         f'<td class="checklist">{_checklist_cell(b.checklist)}</td></tr>')
        parts.append("</table>")
        if ctx["waiting"]:
            failed = escape("; ".join(ctx["failed_checks"]))
            despite = (f'<p><label><input type="checkbox" name="despite" value="yes" id="despite" required> approve '
                       f'despite: {failed}</label></p>' if failed else "")
            parts.append(f'<form method="post" action="/approve"><input type="hidden" name="date" value="{day}">'
                         f'<input type="hidden" name="fingerprint" value="{snapshot.fingerprint}">'
                         f'<input type="hidden" name="form_token" value="{escape(form_token)}">{despite}'
                         f'<button type="submit" id="approve">Approve snapshot v{snapshot.version}</button></form>')
    parts.append('<h2>Approvals</h2><ul id="approvals">')
    parts += [f"<li>{escape(a.approved_by)} approved snapshot v{version} (<code>{a.fingerprint[:12]}</code>) at "
              f"{a.approved_at:%Y-%m-%d %H:%M:%S}Z"
              + (f", despite: {escape('; '.join(a.failed_checks.splitlines()))}" if a.failed_checks else "") + "</li>"
              for a, version in ctx["approvals"]] or ["<li>None yet.</li>"]
    parts.append("</ul></body></html>")
    return "".join(parts)


def _checklist_cell(checklist) -> str:
    if checklist is None:
        return "not checked (drafted before drafts were checked: redraft to check it)"
    if checklist.passed:
        return f"passes all {checklist.total} checks"
    failed = "".join(f"<li>{escape(r.name)}: {escape('; '.join(r.problems))}</li>" for r in checklist.failed)
    return f"<strong>fails {len(checklist.failed)} of {checklist.total} checks:</strong><ul>{failed}</ul>"
