"""A real SMTP server on loopback (aiosmtpd) that records what it accepts.

``refuse`` names recipients answered ``550`` at RCPT; ``drop_at_rcpt_once`` names
recipients whose first RCPT cuts the connection (nothing sent); ``drop_after_data`` names
recipients whose message is accepted (recorded) but whose connection is then cut before
the ``250`` reaches the client (the "answer lost" case). With ``tls_context`` the server
requires STARTTLS, or with ``implicit_tls`` speaks TLS from the first byte (smtps).

Temporary refusals, as busy servers give them: ``per_connection`` answers ``452 too many
recipients`` to every RCPT after that many on one connection; ``unavailable_after`` and
``unavailable_for`` answer ``421 service not available`` (and close the connection) to
that many MAIL commands once that many messages were accepted, then recover. Counted,
not timed, so a test knows exactly what the client met. ``answers`` counts the refusals
given (by code), ``connections`` the sessions opened.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    tls: bool
    authenticated_as: str | None
    raw: bytes = b""  # the DATA as it came over the wire (line lengths, folding)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeSmtp:
    def __init__(self, *, username: str | None = None, password: str | None = None,
                 tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False):
        self.username = username
        self.password = password
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls  # smtps: TLS from the first byte instead of STARTTLS
        self.refuse: set[str] = set()
        self.drop_after_data: set[str] = set()
        self.drop_at_rcpt_once: set[str] = set()  # cut the connection at RCPT, the first time only
        self.per_connection: int | None = None  # 452 to every RCPT after this many on one connection
        self.unavailable_after: int | None = None  # accepted messages before the 421s begin
        self.unavailable_for = 0  # MAIL commands answered 421 once they have begun
        self.answers: Counter[int] = Counter()  # refusals given, by code
        self.received: list[ReceivedMessage] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self.port = 0

    @property
    def url(self) -> str:
        creds = f"{self.username}:{self.password}@" if self.username else ""
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{creds}127.0.0.1:{self.port}"

    def start(self) -> "FakeSmtp":
        self.port = self.port or _free_port()
        kwargs = {}
        if self.username:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; smtps is encrypted from the start.
            kwargs.update(authenticator=self._authenticate,
                          auth_require_tls=self.tls_context is not None and not self.implicit_tls)
        if self.tls_context is not None and self.implicit_tls:
            kwargs.update(ssl_context=self.tls_context)
        elif self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                      ready_timeout=10, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages_for(self, address: str) -> list[EmailMessage]:
        key = address.lower()
        with self._lock:
            return [r.message for r in self.received if key in (t.lower() for t in r.rcpt_tos)]

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _Handler:
    def __init__(self, fake: FakeSmtp):
        self.fake = fake

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if not hasattr(session, "rcpts_here"):
            session.rcpts_here = 0  # RCPTs accepted on this connection
            with self.fake._lock:
                self.fake.connections += 1
        session.host_name = hostname
        return responses

    def _refusal(self, code: int, text: str) -> str:
        with self.fake._lock:
            self.fake.answers[code] += 1
        return f"{code} {text}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.fake.username and not session.authenticated:
            return "530 5.7.0 Authentication required"
        fake = self.fake
        with fake._lock:
            closing = (fake.unavailable_after is not None and len(fake.received) >= fake.unavailable_after
                       and fake.unavailable_for > 0)
            if closing:
                fake.unavailable_for -= 1
        if closing:
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the answer is written
            return self._refusal(421, "4.3.2 Service not available, closing transmission channel")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.fake.drop_at_rcpt_once:
            self.fake.drop_at_rcpt_once.discard(address)
            server.transport.close()  # before DATA: the client knows nothing was sent
            return "421 4.3.0 closing connection"
        if address.lower() in {a.lower() for a in self.fake.refuse}:
            return self._refusal(550, f"5.1.1 <{address}>: Recipient address rejected: User unknown")
        if self.fake.per_connection is not None and session.rcpts_here >= self.fake.per_connection:
            return self._refusal(452, "4.5.3 Too many recipients on this connection")
        session.rcpts_here += 1
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        auth = session.auth_data
        record = ReceivedMessage(
            mail_from=envelope.mail_from, rcpt_tos=tuple(envelope.rcpt_tos), message=message,
            tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            authenticated_as=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            raw=envelope.original_content,
        )
        with self.fake._lock:
            self.fake.received.append(record)
        if {t.lower() for t in envelope.rcpt_tos} & {a.lower() for a in self.fake.drop_after_data}:
            server.transport.close()  # accepted, but the client never hears the 250
        return "250 2.0.0 Message accepted for delivery"
