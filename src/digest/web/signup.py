"""``/subscribe``: the signup form (GET) and what it posts (POST).

The POST takes the page's form (urlencoded or multipart) or JSON, so a publisher can put a
plain HTML form on their own site or post from a script; it answers JSON when the request
was JSON or asks for it (``Accept: application/json``), else a page. Every address that can
be signed up gets the same answer, whether it was new, pending or already active, so the
form never tells a stranger who is subscribed (:mod:`digest.subscribers.signup` says what
each state does). The page works without JavaScript: a small inline script (allowed by
its hash in the page's Content-Security-Policy, nothing else) only preselects the
browser's time zone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..deliver.providers.base import ProviderError
from ..models import ConsentEvent
from ..subscribers.consent import Evidence, record_consent
from ..subscribers.signup import InvalidSignup, Signup, SignupResult, read_signup, sign_up
from .confirm import send_confirmation
from .context import WebContext, context, evidence_of
from .preferences import timezone_choices
from .timezones import zone_groups
from .security import SECURITY_HEADERS
from .signup_guard import HONEYPOT, STARTED, add_cors, foreign_origin, form_stamp, looks_automated, own_origin
from .signup_guard import preflight as cors_preflight

log = logging.getLogger(__name__)

#: Preselects the browser's zone when it is one of the list's (with JavaScript off, the
#: config's default zone stays selected).
TIMEZONE_SCRIPT = (
    "(function(){var z=Intl.DateTimeFormat().resolvedOptions().timeZone,"
    "s=document.getElementById('timezone');if(!z||!s)return;"
    "for(var i=0;i<s.options.length;i++){if(s.options[i].value===z){s.value=z;return;}}})();"
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(TIMEZONE_SCRIPT.encode()).digest()).decode()
PAGE_CSP = f"{SECURITY_HEADERS['content-security-policy']}; script-src 'sha256-{_SCRIPT_HASH}'"

SENT = ("Check your inbox",
        "We sent an email to that address. Your subscription starts when you open its link and press "
        "the button on the page it opens. If nothing arrives within a few minutes, look in your spam folder.")
BOUNCED = ("Please use another address",
           "Email to this address could not be delivered before, so we cannot send to it. "
           "Please sign up with another address.")
UNAVAILABLE = ("Please try again later", "We could not send the confirmation email just now. Nothing was kept "
               "that would send you email; please try again in a few minutes.")


class BadBody(Exception):
    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.status_code = status_code


async def subscribe_page(request: Request) -> Response:
    return _form(context(request), {}, [])


async def subscribe_preflight(request: Request) -> Response:
    return cors_preflight(request, context(request).runtime.settings.config.signup)


async def subscribe(request: Request) -> Response:
    ctx = context(request)
    response = await _subscribe(ctx, request, _wants_json(request))
    return add_cors(response, request, ctx.runtime.settings.config.signup)


async def _subscribe(ctx: WebContext, request: Request, as_json: bool) -> Response:
    settings = ctx.runtime.settings
    foreign = foreign_origin(request, own_origin(settings.base_url), settings.config.signup)
    if foreign is not None:
        log.info("signup refused: posted from %s, not an allowed origin", foreign[:100])
        return _refuse(ctx, as_json, None, "This form cannot be sent from another site.", 403, {}, [],
                       title="Request refused")
    client = request.client.host if request.client else "unknown"
    if (wait := await ctx.limiter.admit("signup", client)) is not None:
        return _too_many(ctx, as_json, wait)
    try:
        values, topics = await _posted(request)
    except BadBody as exc:
        return _refuse(ctx, as_json, None, str(exc), exc.status_code, {}, [], title="Request refused")
    robot = looks_automated(values, ctx.secret, settings.config.signup)
    if robot is not None:
        log.info("signup ignored: %s", robot)
        return _sent(ctx, as_json)
    try:
        signup = read_signup(values, topics, settings.config)
    except InvalidSignup as exc:
        return _refuse(ctx, as_json, exc.field, str(exc), 400, values, topics)
    if (wait := await ctx.limiter.admit("signup-address", signup.email)) is not None:
        return _too_many(ctx, as_json, wait)
    result = await run_in_threadpool(_store, ctx, signup, _evidence(ctx, request, as_json))
    if result.outcome == "bounced":
        return _refuse(ctx, as_json, "email", BOUNCED[1], 409, values, topics, title=BOUNCED[0])
    if result.sends_confirmation:
        if await ctx.limiter.signup_email_allowed(signup.email):
            try:
                await run_in_threadpool(send_confirmation, ctx, result.subscriber_id,
                                        returning=result.outcome == "returning")
            except ProviderError as exc:
                log.warning("subscriber %s: signup confirmation not sent: %s", result.subscriber_id, exc)
                return _refuse(ctx, as_json, None, UNAVAILABLE[1], 503, values, topics, title=UNAVAILABLE[0])
        else:
            log.info("subscriber %s: signup email not sent again so soon", result.subscriber_id)
    log.info("signup: subscriber %s, %s", result.subscriber_id, result.outcome)
    return _sent(ctx, as_json)


def _sent(ctx: WebContext, as_json: bool) -> Response:
    if as_json:
        return JSONResponse({"status": "check-your-inbox", "message": SENT[1]}, status_code=202)
    return ctx.pages.message(*SENT, 200)


def _too_many(ctx: WebContext, as_json: bool, wait: int) -> Response:
    """429, nothing read further, stored or sent."""
    message = f"Please try again in {wait} seconds."
    if as_json:
        response: Response = JSONResponse({"error": message, "field": None}, status_code=429)
    else:
        response = ctx.pages.message("Too many requests", message, 429)
    response.headers["retry-after"] = str(wait)
    return response


def _store(ctx: WebContext, signup: Signup, evidence: Evidence) -> SignupResult:
    """Sign up, with its consent record when it asks for a confirmation; a second request
    for the same new address that lost the race to insert it is run again and finds the
    row the first one made."""
    try:
        return _store_once(ctx, signup, evidence)
    except IntegrityError:
        return _store_once(ctx, signup, evidence)


def _store_once(ctx: WebContext, signup: Signup, evidence: Evidence) -> SignupResult:
    with ctx.runtime.session() as session:
        result = sign_up(session, signup)
        if result.sends_confirmation:
            record_consent(session, result.subscriber_id, ConsentEvent.SIGNUP, evidence)
        return result


def _evidence(ctx: WebContext, request: Request, as_json: bool) -> Evidence:
    """Who posted (the client address behind trusted proxies), with what, from where, shown what."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin != own_origin(ctx.runtime.settings.base_url):
        source = origin
    else:
        source = "api" if as_json and not origin else f"{ctx.runtime.settings.base_url}/subscribe"
    return evidence_of(request, source, ctx.runtime.settings.config.signup.consent_text)


def _wants_json(request: Request) -> bool:
    return (request.headers.get("content-type", "").startswith("application/json")
            or "application/json" in request.headers.get("accept", ""))


async def _posted(request: Request) -> tuple[dict[str, Any], Any]:
    """The posted fields and, apart, the topics; :class:`BadBody` for what cannot be read."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            values = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadBody(f"The body is not valid JSON ({exc}).") from None
        if not isinstance(values, dict):
            raise BadBody("The JSON body must be an object with email, topics, timezone and send_hour.")
        return values, values.get("topics")
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        return {name: form.get(name) for name in form.keys() if name != "topics"}, form.getlist("topics")
    raise BadBody("Send the form (application/x-www-form-urlencoded or multipart/form-data) or JSON "
                  "(application/json).", 415)


def _refuse(ctx: WebContext, as_json: bool, field: str | None, message: str, status_code: int,
            values: dict[str, Any], topics: Any, *, title: str | None = None) -> Response:
    if as_json:
        return JSONResponse({"error": message, "field": field}, status_code=status_code)
    if field is None and title:
        return ctx.pages.message(title, message, status_code)
    return _form(ctx, values, topics, error=message, status_code=status_code)


def _form(ctx: WebContext, values: dict[str, Any], topics: Any, *, error: str | None = None,
          status_code: int = 200) -> Response:
    """The signup page, keeping what was posted when it is shown again with an error."""
    response = ctx.pages.render("subscribe.html", status_code, error=error, **form_context(ctx, values, topics))
    response.headers["content-security-policy"] = PAGE_CSP
    return response


def form_context(ctx: WebContext, values: dict[str, Any] | None = None, topics: Any = ()) -> dict[str, Any]:
    """What ``signup_form.html`` needs (the /subscribe page and the home page both show it;
    a page showing it sends :data:`PAGE_CSP`, which allows its script)."""
    values = values or {}
    config = ctx.runtime.settings.config
    chosen = {t for t in (topics if isinstance(topics, list) else [topics]) if isinstance(t, str)}
    zone = _shown(values.get("timezone")) or config.schedule.default_timezone
    if zone not in timezone_choices():
        zone = config.schedule.default_timezone
    return dict(
        topics=config.topics,
        chosen=chosen,
        email=_shown(values.get("email")),
        timezones=zone_groups(zone),
        timezone=zone,
        hours=range(24),
        send_hour=_shown(values.get("send_hour")) or str(config.schedule.default_send_hour),
        script=TIMEZONE_SCRIPT,
        consent_text=config.signup.consent_text,
        honeypot=HONEYPOT,
        started_field=STARTED,
        started=form_stamp(ctx.secret),
    )


def _shown(value: Any) -> str:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
