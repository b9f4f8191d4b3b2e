"""SendGrid v3 ``mail/send`` request rules, as documented, for the fake server: what a
request must contain, the per-request limits, and how an accepted request expands into
one delivered message per recipient (substitutions applied)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_BODY_BYTES = 30 * 1024 * 1024
RESERVED_HEADERS = {
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
    "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc",
}


@dataclass(frozen=True)
class DeliveredMessage:
    """What one recipient of an accepted request gets, substitutions applied."""

    to: str
    from_: dict
    subject: str
    text: str | None
    html: str | None
    headers: dict[str, str]
    reply_to: str | None
    categories: tuple[str, ...]
    custom_args: dict[str, str]
    message_id: str


class Rejection(Exception):
    def __init__(self, status: int, message: str, field_name: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"errors": [{"message": message, "field": field_name, "help": None}]}


def validate_and_expand(data: dict[str, Any], message_id: str) -> list[DeliveredMessage]:
    sender = data.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        raise Rejection(400, "The from object must be provided for every email send.", "from")
    personalizations = data.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        raise Rejection(400, "You must have at least one personalization.", "personalizations")
    if len(personalizations) > MAX_PERSONALIZATIONS:
        raise Rejection(400, "The personalization block is limited to 1000 personalizations per API "
                         f"request. You have provided {len(personalizations)} personalizations.",
                         "personalizations")
    seen: set[str] = set()
    total = 0
    for i, p in enumerate(personalizations):
        to = p.get("to") if isinstance(p, dict) else None
        if not isinstance(to, list) or not to:
            raise Rejection(400, "The to array is required for all personalization objects, and must "
                             "have at least one email object with a valid email address.",
                             f"personalizations.{i}.to")
        for kind in ("to", "cc", "bcc"):
            for j, r in enumerate(p.get(kind) or []):
                email = r.get("email") if isinstance(r, dict) else None
                if not email or "@" not in email:
                    raise Rejection(400, "Does not contain a valid address.", f"personalizations.{i}.{kind}.{j}.email")
                if email.lower() in seen:
                    raise Rejection(400, "Each email address in the personalization block should be unique "
                                     "between to, cc, and bcc. We found the first duplicate instance of "
                                     f"[{email}] in the personalizations.{i}.{kind} field.",
                                     f"personalizations.{i}.{kind}")
                seen.add(email.lower())
                total += 1
        for key in ("substitutions", "custom_args", "headers"):
            values = p.get(key) or {}
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise Rejection(400, f"{key} values must be strings", f"personalizations.{i}.{key}")
        _check_headers(p.get("headers") or {}, f"personalizations.{i}.headers")
    if total > MAX_RECIPIENTS:
        raise Rejection(400, "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
                         "personalizations")
    if not data.get("subject") and not all(p.get("subject") for p in personalizations):
        raise Rejection(400, "The subject is required. You can get around this requirement if you use a "
                         "template with a subject defined or if every personalization has a subject defined.",
                         "subject")
    content = data.get("content")
    if not isinstance(content, list) or not content or not all(
        isinstance(c, dict) and c.get("type") and c.get("value") for c in content
    ):
        raise Rejection(400, "Unless a valid template_id is provided, the content parameter is required. "
                         "There must be at least one defined content block.", "content")
    types = [c["type"] for c in content]
    if "text/plain" in types and types.index("text/plain") != 0:
        raise Rejection(400, "If present, text/plain content must be first, followed by any other "
                         "content.", "content")
    _check_headers(data.get("headers") or {}, "headers")
    categories = data.get("categories") or []
    if len(categories) > 10 or not all(isinstance(c, str) and len(c) <= 255 for c in categories):
        raise Rejection(400, "Too many categories, or a category is not a string under 255 characters.",
                         "categories")

    by_type = {c["type"]: c["value"] for c in content}
    reply_to = (data.get("reply_to") or {}).get("email")
    messages = []
    for p in personalizations:
        subs = p.get("substitutions") or {}

        def fill(text: str | None) -> str | None:
            if text is None:
                return None
            for key, value in subs.items():
                text = text.replace(key, value)
            return text

        headers = {k: fill(v) for k, v in {**(data.get("headers") or {}), **(p.get("headers") or {})}.items()}
        for r in p["to"]:
            messages.append(DeliveredMessage(
                to=r["email"], from_=data["from"], subject=fill(p.get("subject") or data["subject"]),
                text=fill(by_type.get("text/plain")), html=fill(by_type.get("text/html")),
                headers=headers, reply_to=reply_to, categories=tuple(categories),
                custom_args={**(data.get("custom_args") or {}), **(p.get("custom_args") or {})},
                message_id=message_id,
            ))
    return messages


def _check_headers(headers: dict, field_name: str) -> None:
    bad = [h for h in headers if h.lower() in RESERVED_HEADERS]
    if bad:
        raise Rejection(400, f"The following header(s) are reserved and cannot be set: {bad}", field_name)
