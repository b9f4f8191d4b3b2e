"""A local HTTP server speaking SendGrid's v3 ``POST /v3/mail/send``, for tests.

It enforces the documented per-request rules (Bearer key, required fields, at most 1,000
personalizations and 1,000 recipients, each address once, text/plain before text/html,
under 30 MB) and answers 202 with an ``X-Message-Id``. Every accepted request is
expanded into one :class:`DeliveredMessage` per recipient, substitutions applied, so a
test reads exactly what each subscriber would get.

Faults are planned ahead and consumed one per request, in order: ``pass_next()`` (a
normal answer, to aim the next fault at a later batch), ``fail_next(429, headers=...)``,
``fail_next(503)``, ``lose_answer_next()`` (the mail is delivered, then the connection is
dropped without an answer), ``delay_next(seconds)`` (delivered, answered late),
``refuse_after_next(seconds)``. ``refuse_connections()`` closes the listening socket, so
connections are refused by the kernel until ``accept_connections()`` (or a timer).

Usable from another process: point ``SENDGRID_API_HOST`` at :attr:`FakeSendGrid.url`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


@dataclass
class _Plan:
    kind: str  # "pass" | "status" | "lose_answer" | "delay" | "refuse_after"
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    seconds: float = 0.0


class _Rejection(Exception):
    def __init__(self, status: int, message: str, field_name: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"errors": [{"message": message, "field": field_name, "help": None}]}


class FakeSendGrid:
    def __init__(self, api_key: str = "SG.test-key", host: str = "127.0.0.1", port: int = 0):
        self.api_key = api_key
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # accepted request bodies
        self.delivered: list[DeliveredMessage] = []
        self.attempts = 0  # every POST that reached the handler, accepted or not
        self.responses: Counter[int] = Counter()  # status -> count (lost answers not counted)
        self._plans: list[_Plan] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._reopen_timer: threading.Timer | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "FakeSendGrid":
        server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-sendgrid", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._reopen_timer:
            self._reopen_timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeSendGrid":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ faults

    def fail_next(self, status: int, *, headers: dict[str, str] | None = None,
                  body: dict | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (nothing delivered)."""
        with self.lock:
            self._plans.extend(_Plan("status", status, dict(headers or {}), body) for _ in range(times))

    def pass_next(self, times: int = 1) -> None:
        """Let the next request(s) through normally (to aim a later fault at batch N)."""
        with self.lock:
            self._plans.extend(_Plan("pass") for _ in range(times))

    def refuse_after_next(self, for_seconds: float) -> None:
        """Answer the next request normally, then refuse connections for ``for_seconds``."""
        with self.lock:
            self._plans.append(_Plan("refuse_after", seconds=for_seconds))

    def lose_answer_next(self, times: int = 1) -> None:
        """Deliver the next request(s), then drop the connection without answering."""
        with self.lock:
            self._plans.extend(_Plan("lose_answer") for _ in range(times))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Deliver the next request(s), then wait ``seconds`` before answering."""
        with self.lock:
            self._plans.extend(_Plan("delay", seconds=seconds) for _ in range(times))

    def refuse_connections(self, for_seconds: float | None = None) -> None:
        """Stop listening: connection attempts are refused by the kernel. Listening
        resumes on the same port after ``for_seconds``, or at :meth:`accept_connections`."""
        self.stop()
        if for_seconds is not None:
            self._reopen_timer = threading.Timer(for_seconds, self.accept_connections)
            self._reopen_timer.daemon = True
            self._reopen_timer.start()

    def accept_connections(self) -> None:
        if self._server is None:
            self.start()

    def _next_plan(self) -> _Plan | None:
        with self.lock:
            return self._plans.pop(0) if self._plans else None

    # ------------------------------------------------------------ reading back

    def messages_for(self, email: str) -> list[DeliveredMessage]:
        key = email.lower()
        with self.lock:
            return [m for m in self.delivered if m.to.lower() == key]

    def delivery_counts(self) -> Counter[str]:
        with self.lock:
            return Counter(m.to.lower() for m in self.delivered)

    # ------------------------------------------------------------ the rules

    def _accept(self, authorization: str | None, raw: bytes) -> str:
        """Validate one request; record its deliveries; return its message id."""
        if authorization != f"Bearer {self.api_key}":
            raise _Rejection(401, "The provided authorization grant is invalid, expired, or revoked")
        if len(raw) > MAX_BODY_BYTES:
            raise _Rejection(413, "The JSON payload you have included in your request is too large.")
        try:
            data = json.loads(raw)
        except ValueError:
            raise _Rejection(400, "Bad Request") from None
        if not isinstance(data, dict):
            raise _Rejection(400, "Bad Request")
        message_id = uuid.uuid4().hex[:22]
        messages = _validate_and_expand(data, message_id)
        with self.lock:
            self.requests.append(data)
            self.delivered.extend(messages)
        return message_id


def _validate_and_expand(data: dict[str, Any], message_id: str) -> list[DeliveredMessage]:
    sender = data.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        raise _Rejection(400, "The from object must be provided for every email send.", "from")
    personalizations = data.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        raise _Rejection(400, "You must have at least one personalization.", "personalizations")
    if len(personalizations) > MAX_PERSONALIZATIONS:
        raise _Rejection(400, "The personalization block is limited to 1000 personalizations per API "
                         f"request. You have provided {len(personalizations)} personalizations.",
                         "personalizations")
    seen: set[str] = set()
    total = 0
    for i, p in enumerate(personalizations):
        to = p.get("to") if isinstance(p, dict) else None
        if not isinstance(to, list) or not to:
            raise _Rejection(400, "The to array is required for all personalization objects, and must "
                             "have at least one email object with a valid email address.",
                             f"personalizations.{i}.to")
        for kind in ("to", "cc", "bcc"):
            for j, r in enumerate(p.get(kind) or []):
                email = r.get("email") if isinstance(r, dict) else None
                if not email or "@" not in email:
                    raise _Rejection(400, "Does not contain a valid address.", f"personalizations.{i}.{kind}.{j}.email")
                if email.lower() in seen:
                    raise _Rejection(400, "Each email address in the personalization block should be unique "
                                     "between to, cc, and bcc. We found the first duplicate instance of "
                                     f"[{email}] in the personalizations.{i}.{kind} field.",
                                     f"personalizations.{i}.{kind}")
                seen.add(email.lower())
                total += 1
        for key in ("substitutions", "custom_args", "headers"):
            values = p.get(key) or {}
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise _Rejection(400, f"{key} values must be strings", f"personalizations.{i}.{key}")
        _check_headers(p.get("headers") or {}, f"personalizations.{i}.headers")
    if total > MAX_RECIPIENTS:
        raise _Rejection(400, "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
                         "personalizations")
    if not data.get("subject") and not all(p.get("subject") for p in personalizations):
        raise _Rejection(400, "The subject is required. You can get around this requirement if you use a "
                         "template with a subject defined or if every personalization has a subject defined.",
                         "subject")
    content = data.get("content")
    if not isinstance(content, list) or not content or not all(
        isinstance(c, dict) and c.get("type") and c.get("value") for c in content
    ):
        raise _Rejection(400, "Unless a valid template_id is provided, the content parameter is required. "
                         "There must be at least one defined content block.", "content")
    types = [c["type"] for c in content]
    if "text/plain" in types and types.index("text/plain") != 0:
        raise _Rejection(400, "If present, text/plain content must be first, followed by any other "
                         "content.", "content")
    _check_headers(data.get("headers") or {}, "headers")
    categories = data.get("categories") or []
    if len(categories) > 10 or not all(isinstance(c, str) and len(c) <= 255 for c in categories):
        raise _Rejection(400, "Too many categories, or a category is not a string under 255 characters.",
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
        raise _Rejection(400, f"The following header(s) are reserved and cannot be set: {bad}", field_name)


def _handler_for(fake: FakeSendGrid) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with fake.lock:
                fake.attempts += 1
            if self.path.rstrip("/") != "/v3/mail/send":
                return self._answer(404, {"errors": [{"message": "not found", "field": None, "help": None}]})
            plan = fake._next_plan()
            if plan and plan.kind == "status":
                return self._answer(plan.status, plan.body or _status_body(plan.status), plan.headers)
            try:
                message_id = fake._accept(self.headers.get("Authorization"), raw)
            except _Rejection as exc:
                return self._answer(exc.status, exc.body)
            if plan and plan.kind == "lose_answer":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # delivered; the client never hears back
                return
            if plan and plan.kind == "delay":
                time.sleep(plan.seconds)
            if plan and plan.kind == "refuse_after":
                fake.refuse_connections(plan.seconds)  # closed before the client hears back
            self._answer(202, None, {"X-Message-Id": message_id})

        def _answer(self, status: int, body: dict | None, headers: dict[str, str] | None = None):
            data = b"" if body is None else json.dumps(body).encode()
            with fake.lock:
                fake.responses[status] += 1
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client went away (killed, timed out)
            self.close_connection = True

    return Handler


def _status_body(status: int) -> dict:
    messages = {429: "too many requests", 500: "internal server error", 503: "service unavailable"}
    return {"errors": [{"message": messages.get(status, f"error {status}"), "field": None, "help": None}]}
