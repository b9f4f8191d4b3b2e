"""Confirming by email that the owner of an address wants the digest.

Only the person who reads the mailbox may undo an opt-out: a reader who left (by the
unsubscribe link, by the operator, or by the provider's unsubscribe event) and asks to
come back from the preferences page gets an email at that address with a confirmation
link, and nothing changes until its page is submitted. A signup with double opt-in works
the same way: :func:`request_confirmation` sends, :func:`confirm` acts.

The link's token is signed with ``DIGEST_SECRET_KEY`` (its own salt, so no other link's
token works here), expires (``WebSettings.confirmation_hours``) and names the subscriber,
a hash of their address and the moment their status last changed: a link sent before a
later unsubscribe, or for an address since changed, is refused. Its GET shows a button;
only the POST acts, since mail scanners fetch every link in a message. Which statuses a
confirmation may make active is :func:`digest.suppression.can_resubscribe`'s rule
(``unsubscribed`` and ``complained``, and ``pending``: a web signup not yet confirmed); ``returning=False``
words the email for a signup.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from ..content import RenderedEmail
from ..deliver.providers.base import OutgoingBatch, Provider, Recipient, SendResult
from ..links import InvalidToken, LinkMaker
from ..message import shared_headers
from ..models import ConsentEvent, Subscriber, SubscriberStatus, utcnow
from ..settings import PublicationConfig
from ..suppression import can_resubscribe, resubscribe
from .consent import Evidence, record_consent

SALT = "digest.confirm"
CONSENT_SOURCE = "confirmed by email link"
SIGNUP_CONSENT_SOURCE = "signup form, confirmed by email link"


class ExpiredConfirmation(InvalidToken):
    """A genuine confirmation link, older than it may be."""


@dataclass(frozen=True)
class Confirmation:
    subscriber_id: int
    address_hash: str
    status_stamp: int


def _address_hash(email: str) -> str:
    return hashlib.sha256(email.lower().encode()).hexdigest()[:16]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _status_stamp(subscriber: Subscriber) -> int:
    """When the status last changed, in microseconds (exact: a link used to confirm a
    signup made the same second is still told apart from the signup)."""
    changed = subscriber.status_changed_at
    return (changed - _EPOCH) // timedelta(microseconds=1) if changed else 0


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT, serializer_kwargs={"separators": (",", ":")})


def confirmation_token(secret: str, subscriber: Subscriber) -> str:
    payload = [subscriber.id, _address_hash(subscriber.email), _status_stamp(subscriber)]
    return _serializer(secret).dumps(payload)


def read_confirmation(secret: str, token: str, max_age_seconds: int) -> Confirmation:
    """The token's content; :class:`ExpiredConfirmation` when too old, :class:`InvalidToken`
    for anything forged, altered, or not in the one spelling :func:`confirmation_token` gives."""
    try:
        payload = _serializer(secret).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise ExpiredConfirmation("confirmation link expired") from None
    except BadData:
        raise InvalidToken("invalid or altered confirmation link") from None
    if not (isinstance(payload, list) and len(payload) == 3 and type(payload[0]) is int
            and isinstance(payload[1], str) and type(payload[2]) is int):
        raise InvalidToken("malformed confirmation link")
    if not _canonical(token, payload):
        raise InvalidToken("confirmation link not in its canonical spelling")
    return Confirmation(*payload)


def _canonical(token: str, payload: list) -> bool:
    """Every part in canonical base64 and the payload compact JSON: the spelling
    :func:`confirmation_token` makes (base64 leaves low bits of a last character unused)."""
    parts = token.split(".")
    if len(parts) != 3:  # a compressed payload (leading ".") is never made here
        return False
    try:
        decoded = [base64_decode(part) for part in parts]
    except BadData:
        return False
    if any(not hmac.compare_digest(base64_encode(raw), part.encode()) for raw, part in zip(decoded, parts)):
        return False
    return decoded[0] == json.dumps(payload, separators=(",", ":")).encode()


def matches(confirmation: Confirmation, subscriber: Subscriber) -> bool:
    """The link was made for this address as it stands now (no change of status since)."""
    return (hmac.compare_digest(confirmation.address_hash, _address_hash(subscriber.email))
            and confirmation.status_stamp == _status_stamp(subscriber))


def check(subscriber: Subscriber | None, confirmation: Confirmation) -> str:
    """What confirming would do: ``confirmable``, ``already-active``, ``used`` (this link
    made the reader active already: a replay changes nothing), ``stale`` (made before a later
    change of status, or for another address), ``not-confirmable`` (bounced) or
    ``unknown``."""
    if subscriber is None:
        return "unknown"
    if subscriber.status == SubscriberStatus.ACTIVE:
        return "already-active" if matches(confirmation, subscriber) else "used"
    if not matches(confirmation, subscriber):
        return "stale"
    if not can_resubscribe(subscriber):  # bounced: only an operator
        return "not-confirmable"
    return "confirmable"


def confirm(session: Session, confirmation: Confirmation, *, now: datetime | None = None,
            evidence: Evidence | None = None) -> str:
    """Make the subscriber active and record the consent (a consent record too, given the
    ``evidence``): ``subscribed`` (a first signup), ``confirmed`` (back after leaving), or
    what :func:`check` said instead. The caller's session commits."""
    subscriber = session.get(Subscriber, confirmation.subscriber_id)
    outcome = check(subscriber, confirmation)
    if outcome != "confirmable":
        return outcome
    first_signup = subscriber.status == SubscriberStatus.PENDING
    now = now or utcnow()
    resubscribe(subscriber, now=now)
    subscriber.consented_at = subscriber.updated_at = now
    subscriber.consent_source = SIGNUP_CONSENT_SOURCE if first_signup else CONSENT_SOURCE
    session.flush()
    if evidence is not None:
        record_consent(session, subscriber.id, ConsentEvent.CONFIRM if first_signup else ConsentEvent.RESUBSCRIBE,
                       evidence, at=now)
    return "subscribed" if first_signup else "confirmed"


EMAIL_TEMPLATES = Environment(
    loader=PackageLoader("digest.subscribers", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def confirmation_email(config: PublicationConfig, confirm_url: str, hours: int, *,
                       returning: bool = True) -> RenderedEmail:
    """``returning``: a reader who left asks to come back (else a first signup)."""
    values = {"publication": config.publication, "confirm_url": confirm_url, "hours": hours, "returning": returning}
    return render_email("confirmation", values)


def render_email(name: str, values: dict) -> RenderedEmail:
    """``templates/<name>/``: subject.txt, body.html and body.txt; the subject is the preheader."""
    subject = EMAIL_TEMPLATES.get_template(f"{name}/subject.txt").render(values).strip()
    values = {**values, "preheader": subject}
    return RenderedEmail(
        subject=subject,
        preheader=subject,
        html=EMAIL_TEMPLATES.get_template(f"{name}/body.html").render(values),
        text=EMAIL_TEMPLATES.get_template(f"{name}/body.txt").render(values),
    )


def request_confirmation(
    provider: Provider, config: PublicationConfig, links: LinkMaker, subscriber: Subscriber, *,
    hours: int, returning: bool = True, today: date | None = None,
) -> SendResult:
    """Send ``subscriber`` the email whose link confirms them. Only their own mailbox gets it."""
    url = f"{links.base_url}/confirm/{confirmation_token(links.secret, subscriber)}"
    return send_to_one(provider, config, links, subscriber, confirmation_email(config, url, hours, returning=returning),
                       batch_id=CONFIRMATION_BATCH, today=today)


#: The batch numbers of emails sent to one reader outside any edition (no ledger row): the
#: outbox names its files by them, so a welcome never replaces the confirmation before it.
CONFIRMATION_BATCH = 0
WELCOME_BATCH = -1


def send_to_one(provider: Provider, config: PublicationConfig, links: LinkMaker, subscriber: Subscriber,
                body: RenderedEmail, *, batch_id: int, today: date | None = None) -> SendResult:
    """Send ``body`` to ``subscriber`` alone, with their tokens: a transactional message
    (no List-Unsubscribe headers, no tracking), not list mail."""
    tokens = links.token_values(subscriber.id, subscriber.email, 0)
    batch = OutgoingBatch(
        batch_id=batch_id,
        edition_id=0,
        edition_date=today or datetime.now(timezone.utc).date(),
        body=body,
        recipients=[Recipient(subscriber.id, subscriber.id, subscriber.email, tokens, {})],
        headers=shared_headers(config),
        transactional=True,
    )
    from ..deliver.batch import send_unrecorded  # the send path's one door to a provider

    return send_unrecorded(provider, batch)
