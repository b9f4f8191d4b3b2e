"""A local HTTP server speaking SendGrid's v3 ``POST /v3/mail/send``, for tests.

It enforces the documented per-request rules (Bearer key, required fields, at most 1,000
personalizations and 1,000 recipients, each address once, text/plain before text/html,
under 30 MB) and answers 202 with an ``X-Message-Id``. Every accepted request is
expanded into one :class:`DeliveredMessage` per recipient, substitutions applied, so a
test reads exactly what each subscriber would get.

Faults are planned ahead and consumed one per request, in order: ``pass_next()`` (a
normal answer, to aim the next fault at a later batch), ``fail_next(429, headers=...)``,
``fail_next(503)``, ``lose_answer_next()`` (the mail is delivered, then the connection is
dropped without an answer), ``drop_next()`` (the request is read and the connection
dropped before it is accepted: nothing delivered, and the client cannot tell),
``delay_next(seconds)`` (delivered, answered late), ``refuse_after_next(seconds)``,
``hold_next()`` (delivered, answered once the test says so: to stage a race),
``cut_next()`` (the connection is reset once the request's headers are read, its body
unread: a big body's write fails, nothing delivered).
``refuse_connections()`` closes the listening socket (and the idle kept-alive
connections), so connections are refused by the kernel until ``accept_connections()`` (or
a timer).

Connections are kept alive (HTTP/1.1) as SendGrid keeps them, unless the client asks to
close: ``connections`` counts the TCP connections accepted, ``idle_timeout`` (seconds)
closes a connection idle that long, and ``close_idle_connections()`` closes every idle one
at once (a server dropping kept-alive connections between requests); ``most_in_flight``
is the most requests it was handling at once. ``received_at``
keeps each request's arrival time (``time.time()``) with its addresses, to show who waited.

Standing faults, kept until changed: ``refuse_addresses`` (answered as SendGrid answers an
address it will not take: 400, ``personalizations.N.to.0.email``, the request delivering
nothing), ``max_body_bytes`` (413 above it, as above the documented 30 MB) and
``on_request`` (called with each request's addresses before it is answered, e.g. to
stage a database fault while a send is in flight). ``posted`` keeps the addresses of
every request that reached the rules, accepted or not, to show what was asked twice.

Usable from another process: point ``SENDGRID_API_HOST`` at :attr:`FakeSendGrid.url`.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .sendgrid_rules import MAX_BODY_BYTES, DeliveredMessage, Rejection, validate_and_expand


@dataclass
class _Plan:
    kind: str  # "pass" | "status" | "lose_answer" | "drop" | "delay" | "refuse_after" | "hold" | "cut"
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    seconds: float = 0.0
    release: threading.Event | None = None


class FakeSendGrid:
    def __init__(self, api_key: str = "SG.test-key", host: str = "127.0.0.1", port: int = 0, *,
                 idle_timeout: float | None = None):
        self.api_key = api_key
        self.idle_timeout = idle_timeout
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # accepted request bodies
        self.delivered: list[DeliveredMessage] = []
        self.attempts = 0  # every POST that reached the handler, accepted or not
        self.responses: Counter[int] = Counter()  # status -> count (lost answers not counted)
        self.refuse_addresses: set[str] = set()  # lower-case addresses answered with a 400 naming them
        self.max_body_bytes = MAX_BODY_BYTES
        self.posted: list[tuple[int, list[str]]] = []  # (status, the request's addresses), in order
        self.on_request = None  # callable(addresses) run before a request is judged
        self.connections = 0  # TCP connections accepted
        self.in_flight = 0  # requests being read or answered now
        self.most_in_flight = 0
        self.received_at: list[tuple[float, list[str]]] = []  # (time.time() on arrival, addresses)
        #: Batches (``custom_args.batch_id``) whose answer a :meth:`hold_next` plan is holding or held.
        self.held_batches: set[str] = set()
        self._idle: dict[socket.socket, bool] = {}  # open connection -> waiting for a request
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
        # A stopped server keeps no connection: the idle ones are closed now, a busy one
        # once its answer is written (see _answer).
        self.close_idle_connections()

    def close_idle_connections(self) -> int:
        """Close every kept-alive connection waiting for a request (as a server does
        after its idle timeout); the number closed."""
        with self.lock:
            idle = [conn for conn, waiting in self._idle.items() if waiting]
        for conn in idle:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(idle)

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

    def drop_next(self, times: int = 1) -> None:
        """Read the next request(s), then drop the connection without accepting them."""
        with self.lock:
            self._plans.extend(_Plan("drop") for _ in range(times))

    def cut_next(self) -> None:
        """Reset the next request's connection before reading its body (nothing delivered)."""
        with self.lock:
            self._plans.append(_Plan("cut"))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Deliver the next request(s), then wait ``seconds`` before answering."""
        with self.lock:
            self._plans.extend(_Plan("delay", seconds=seconds) for _ in range(times))

    def hold_next(self, limit: float = 60.0) -> threading.Event:
        """Deliver the next request, then answer it only once the returned event is set
        (or after ``limit`` seconds, so a failing test cannot hang)."""
        release = threading.Event()
        with self.lock:
            self._plans.append(_Plan("hold", seconds=limit, release=release))
        return release

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
            raise Rejection(401, "The provided authorization grant is invalid, expired, or revoked")
        if len(raw) > self.max_body_bytes:
            raise Rejection(413, "The JSON payload you have included in your request is too large.")
        try:
            data = json.loads(raw)
        except ValueError:
            raise Rejection(400, "Bad Request") from None
        if not isinstance(data, dict):
            raise Rejection(400, "Bad Request")
        self._refuse_named(data)
        message_id = uuid.uuid4().hex[:22]
        messages = validate_and_expand(data, message_id)
        with self.lock:
            self.requests.append(data)
            self.delivered.extend(messages)
        return message_id


    def _refuse_named(self, data: dict) -> None:
        """SendGrid's answer to addresses it will not take: one error per address, each
        naming its personalization (``personalizations.N.to.0.email``)."""
        errors = [
            {"message": "Does not contain a valid address.", "field": f"personalizations.{i}.to.{j}.email",
             "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to"}
            for i, p in enumerate(data.get("personalizations") or [])
            for j, r in enumerate((p or {}).get("to") or [])
            if str((r or {}).get("email", "")).lower() in self.refuse_addresses
        ]
        if errors:
            rejection = Rejection(400, errors[0]["message"])
            rejection.body = {"errors": errors}
            raise rejection


def _addresses(raw: bytes) -> list[str]:
    try:
        return [r["email"].lower() for p in json.loads(raw)["personalizations"] for r in p["to"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def _handler_for(fake: FakeSendGrid) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        timeout = fake.idle_timeout  # a kept-alive connection idle this long is closed

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def setup(self):
            super().setup()
            with fake.lock:
                fake.connections += 1
                fake._idle[self.connection] = True

        def finish(self):
            with fake.lock:
                fake._idle.pop(self.connection, None)
            try:
                super().finish()
            except OSError:
                pass

        def handle_one_request(self):
            try:
                super().handle_one_request()
            except OSError:  # closed under it (close_idle_connections, stop)
                self.close_connection = True
            with fake.lock:
                if fake._idle.get(self.connection) is False:
                    fake._idle[self.connection] = True
                    fake.in_flight -= 1

        def do_POST(self):
            with fake.lock:
                fake._idle[self.connection] = False
                fake.in_flight += 1
                fake.most_in_flight = max(fake.most_in_flight, fake.in_flight)
                cut = bool(fake._plans) and fake._plans[0].kind == "cut" and fake._plans.pop(0)
            if cut:
                with fake.lock:
                    fake.attempts += 1
                # Closed with its body unread and no lingering: the kernel resets the connection.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                os.close(self.connection.detach())
                self.close_connection = True
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with fake.lock:
                fake.attempts += 1
            if self.path.rstrip("/") != "/v3/mail/send":
                return self._answer(404, {"errors": [{"message": "not found", "field": None, "help": None}]})
            addresses = _addresses(raw)
            with fake.lock:
                fake.received_at.append((time.time(), addresses))
            if fake.on_request is not None:
                fake.on_request(addresses)
            plan = fake._next_plan()
            if plan and plan.kind == "status":
                with fake.lock:
                    fake.posted.append((plan.status, addresses))
                return self._answer(plan.status, plan.body or _status_body(plan.status), plan.headers)
            if plan and plan.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # never accepted; the client never hears back
                return
            try:
                message_id = fake._accept(self.headers.get("Authorization"), raw)
            except Rejection as exc:
                with fake.lock:
                    fake.posted.append((exc.status, addresses))
                return self._answer(exc.status, exc.body)
            with fake.lock:
                fake.posted.append((202, addresses))
            if plan and plan.kind == "lose_answer":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # delivered; the client never hears back
                return
            if plan and plan.kind == "delay":
                time.sleep(plan.seconds)
            if plan and plan.kind == "hold":
                batch = str((json.loads(raw).get("custom_args") or {}).get("batch_id"))
                with fake.lock:
                    fake.held_batches.add(batch)
                plan.release.wait(plan.seconds)
            if plan and plan.kind == "refuse_after":
                fake.refuse_connections(plan.seconds)  # closed before the client hears back
            self._answer(202, None, {"X-Message-Id": message_id})

        def _answer(self, status: int, body: dict | None, headers: dict[str, str] | None = None):
            data = b"" if body is None else json.dumps(body).encode()
            with fake.lock:
                fake.responses[status] += 1
            # Kept alive unless the client asked to close (BaseHTTPRequestHandler read its
            # Connection header) or the server has stopped listening.
            closing = self.close_connection or fake._server is not self.server
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if closing:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                closing = True  # the client went away (killed, timed out)
            self.close_connection = closing

    return Handler


def _status_body(status: int) -> dict:
    messages = {429: "too many requests", 500: "internal server error", 503: "service unavailable"}
    return {"errors": [{"message": messages.get(status, f"error {status}"), "field": None, "help": None}]}
