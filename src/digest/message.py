"""The exact email a subscriber gets, as a MIME message (preview, outbox and SMTP).

SendGrid builds its JSON from the same pieces (:func:`shared_headers`,
:func:`recipient_headers`, and a :class:`~digest.content.RenderedEmail` whose tokens it
fills through substitutions), so every provider sends the same headers.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from typing import Mapping

from .content import RenderedEmail, fill_tokens
from .date_tokens import has_date_tokens
from .settings import PublicationConfig

ONE_CLICK = "List-Unsubscribe=One-Click"

#: Headers are written under RFC 5322's hard limit rather than the 78-character
#: recommendation: a folded List-Unsubscribe is valid, but some parsers then keep the
#: fold's leading space in the URL.
POLICY = SMTP.clone(max_line_length=998)
#: The parts' bodies are encoded under RFC 2045's limit (section 6.7: quoted-printable
#: lines of at most 76 characters; longer ones fire SpamAssassin's MIME_QP_LONG_LINE).
#: The email package sizes an encoded body by the policy in force when the content is
#: set, and folds headers by the policy in force when the message is written: so the
#: parts are set under this one and the message is written under :data:`POLICY`.
BODY_POLICY = SMTP.clone(max_line_length=76)


def sender(config: PublicationConfig) -> str:
    pub = config.publication
    return formataddr((pub.from_name or pub.name, pub.from_address))


def shared_headers(config: PublicationConfig) -> dict[str, str]:
    """Headers equal for every recipient of an edition."""
    pub = config.publication
    headers = {"List-Id": f"{pub.name} <{pub.list_id}>"}
    if pub.reply_to:
        headers["Reply-To"] = pub.reply_to
    return headers


def recipient_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 2369 / RFC 8058 one-click unsubscribe, per recipient."""
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": ONE_CLICK}


def message_domain(config: PublicationConfig) -> str:
    return config.publication.from_address.rsplit("@", 1)[1]


def delivery_message_id(secret: str, edition_id: int, subscriber_id: int, domain: str) -> str:
    """The Message-ID of a reader's email of an edition: an HMAC of the two ids under the
    secret key, so ``digest audit`` derives it again (no column per reader) and a resend
    carries the same id; the ids themselves do not show."""
    mac = hmac.new(secret.encode(), f"message-id:{edition_id}:{subscriber_id}".encode(), hashlib.sha256)
    return f"<{mac.hexdigest()[:32]}@{domain}>"


def build_message(
    rendered: RenderedEmail,
    *,
    config: PublicationConfig,
    to: str,
    tokens: Mapping[str, str],
    message_id: str | None = None,
    date: datetime | None = None,
    extra_headers: Mapping[str, str] | None = None,
    transactional: bool = False,
) -> EmailMessage:
    """multipart/alternative (text/plain first, then text/html), tokens filled for ``to``.

    ``rendered`` must have its dates filled already (:meth:`RenderedEmail.dated`): a
    date token never leaves in a message. A ``transactional`` message (a confirmation, a
    welcome: sent to one reader because of what they did, not list mail) carries no
    ``List-Unsubscribe``/``List-Unsubscribe-Post`` headers."""
    if any(has_date_tokens(part) for part in (rendered.subject, rendered.text, rendered.html)):
        raise ValueError("date tokens not filled: call RenderedEmail.dated(zone) before building a message")
    values = dict(tokens)
    msg = EmailMessage(policy=BODY_POLICY)
    msg["From"] = sender(config)
    msg["To"] = to
    msg["Subject"] = fill_tokens(rendered.subject, values)
    msg["Date"] = format_datetime(date or datetime.now(timezone.utc))
    msg["Message-ID"] = message_id or make_msgid(domain=message_domain(config))
    for name, value in shared_headers(config).items():
        msg[name] = value
    if not transactional:
        for name, value in recipient_headers(values["unsubscribe_url"]).items():
            msg[name] = value
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(fill_tokens(rendered.text, values), subtype="plain", charset="utf-8")
    msg.add_alternative(fill_tokens(rendered.html, values), subtype="html", charset="utf-8")
    msg.set_boundary(_boundary(str(msg["Message-ID"])))
    msg.policy = POLICY  # see BODY_POLICY: the bodies are encoded, now the headers' turn
    return msg


def _boundary(message_id: str) -> str:
    """The MIME boundary, in the email package's own form (15 ``=``, 19 digits, ``==``:
    never in quoted-printable or base64 text) but derived from the Message-ID instead of
    random, so an email built again (``digest audit``) is the same bytes."""
    number = int(hashlib.sha256(message_id.encode()).hexdigest()[:16], 16) % 10**19
    return f"{'=' * 15}{number:019d}=="
