"""``/confirm/{token}``: the page a confirmation email links to.

``GET`` shows a button and changes nothing (mail scanners fetch every link in a message);
``POST`` confirms: the subscriber (a first signup, or a reader coming back) is active and
the consent is recorded
(:func:`digest.subscribers.confirmation.confirm`). The page shows no address: the link
may have been forwarded.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..deliver.providers.factory import make_provider
from ..deliver.providers.base import ProviderError
from ..links import InvalidToken
from ..models import Subscriber, SubscriberStatus
from ..subscribers.confirmation import Confirmation, ExpiredConfirmation, check, read_confirmation
from ..subscribers.confirmation import confirm as confirm_subscriber
from ..subscribers.confirmation import request_confirmation
from ..subscribers.welcome import send_welcome
from ..suppression import can_resubscribe
from .context import WebContext, context, evidence_of, mark_bad_token

log = logging.getLogger(__name__)

HOUR = 3600
BUTTON = "Yes, send me the digest"


def _read(ctx: WebContext, request: Request) -> Confirmation | Response:
    max_age = ctx.runtime.settings.web.confirmation_hours * HOUR
    try:
        return read_confirmation(ctx.secret, request.path_params["token"], max_age)
    except ExpiredConfirmation:
        return ctx.pages.message(
            "This link has expired",
            "Confirmation links work for a limited time. Sign up again, or ask once more from the "
            "preferences page: we will send a new link.",
            400,
        )
    except InvalidToken:
        mark_bad_token(request)
        return ctx.invalid_link()


_OUTCOMES = {
    "subscribed": ("You are subscribed", "Your first digest arrives at the hour you chose.", 200),
    "confirmed": ("You are subscribed again", "You will receive the digest again from its next edition.", 200),
    "already-active": ("You are subscribed", "This address already receives the digest.", 200),
    "used": ("This link has been used", "This address already receives the digest. Nothing was changed.", 409),
    "stale": ("This link is no longer valid",
              "The subscription changed after this link was sent. Ask again from the preferences page.", 409),
    "not-confirmable": ("We cannot resubscribe this address",
                        "We no longer send email to this address. Please contact us.", 409),
}


async def confirm_page(request: Request) -> Response:
    return await _answer(request, _check)


async def confirm(request: Request) -> Response:
    def step(ctx: WebContext, confirmation: Confirmation) -> str:
        return _confirm(ctx, confirmation, request)
    return await _answer(request, step)


def _wording(ctx: WebContext, *, signup: bool) -> tuple[str, str, str]:
    """The confirm page's question, explanation and button: shown, and kept as the consent's wording."""
    name = ctx.runtime.settings.config.publication.name
    if signup:
        return (f"Subscribe to {name}?", "Press the button to confirm that you want the daily digest at the "
                "address this link was sent to.", BUTTON)
    return (f"Receive {name} again?", "Press the button to start receiving the daily digest again at the "
            "address this link was sent to.", BUTTON)


async def _answer(request: Request, step) -> Response:
    """Read the token, run ``step`` (check or confirm), and show its outcome; a link
    that can still confirm shows the button that posts it."""
    ctx = context(request)
    confirmation = _read(ctx, request)
    if isinstance(confirmation, Response):
        return confirmation
    outcome = await run_in_threadpool(step, ctx, confirmation)
    if outcome == "unknown":
        return ctx.unknown_subscriber()
    if outcome in ("confirmable", "confirmable-signup"):
        question, explanation, button = _wording(ctx, signup=outcome == "confirmable-signup")
        return ctx.pages.render("confirm.html", action=request.url.path, question=question,
                                explanation=explanation, button=button)
    return ctx.pages.message(*_OUTCOMES[outcome])


def _check(ctx: WebContext, confirmation: Confirmation) -> str:
    """What the page offers; ``confirmable-signup`` words it for a first signup."""
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, confirmation.subscriber_id)
        outcome = check(subscriber, confirmation)
        if outcome == "confirmable" and subscriber.status == SubscriberStatus.PENDING:
            return "confirmable-signup"
        return outcome


def _confirm(ctx: WebContext, confirmation: Confirmation, request: Request) -> str:
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, confirmation.subscriber_id)
        signup = subscriber is not None and subscriber.status == SubscriberStatus.PENDING
        evidence = evidence_of(request, "confirmation email link", " ".join(_wording(ctx, signup=signup)))
        outcome = confirm_subscriber(session, confirmation, evidence=evidence)
    if outcome in ("confirmed", "subscribed"):
        log.info("subscriber %s %s by email link", confirmation.subscriber_id, outcome)
    if outcome == "subscribed" and ctx.runtime.settings.config.signup.welcome_email:
        _welcome(ctx, confirmation.subscriber_id)
    return outcome


def _welcome(ctx: WebContext, subscriber_id: int) -> None:
    """The welcome email; one that cannot be sent is logged, the reader stays subscribed."""
    settings = ctx.runtime.settings
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        provider = make_provider(settings)
        try:
            send_welcome(provider, settings.config, ctx.links, subscriber)
        except ProviderError as exc:
            log.warning("subscriber %s: welcome email not sent: %s", subscriber_id, exc)
        finally:
            provider.close()


def send_confirmation(ctx: WebContext, subscriber_id: int, *, returning: bool) -> None:
    """Email the subscriber the link this page answers, through the configured provider,
    when their status lets a confirmation make them active (raises ProviderError).
    How often is the caller's rate limit."""
    settings = ctx.runtime.settings
    with ctx.runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or not can_resubscribe(subscriber):
            return
        provider = make_provider(settings)
        try:
            request_confirmation(provider, settings.config, ctx.links, subscriber,
                                 hours=settings.web.confirmation_hours, returning=returning)
        finally:
            provider.close()
    log.info("subscriber %s: confirmation email sent", subscriber_id)
