"""SMTP provider (smtplib): one connection per batch, one message per recipient.

``SMTP_URL`` is ``smtp://user:pass@host:port`` (STARTTLS whenever the server offers it)
or ``smtps://...`` (TLS from the first byte). Credentials are never sent in clear text
to anything but a loopback address.

Why each recipient is sent with explicit MAIL / RCPT / DATA commands rather than
``send_message``: the stage at which a connection dies decides what we may do next.

* Lost before DATA was answered ``354`` (connect, MAIL, RCPT): the server cannot have
  taken the message. We reconnect and go on; nothing is sent twice.
* Lost during DATA (while the message or its final answer is in flight): the server may
  have queued it. That recipient is reported in ``SendResult.ambiguous`` and is never
  retried here; the others go on over a new connection.
* Refused at RCPT or DATA (4xx/5xx): that recipient goes into ``SendResult.rejected``
  with the server's reason; the others go on.

If no connection can be made before anything was sent, the whole batch raises a
transient :class:`ProviderError` (safe to send later). If a reconnection fails after some
messages were accepted, the accepted ones stay reported as sent (``per_recipient_ids``)
and the rest, never attempted, are reported as rejected with the reason.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError
from ..message import build_message, recipient_headers, shared_headers
from ..settings import Settings
from .provider import OutgoingBatch, ProviderError, Recipient, SendResult
from .retry import RetryPolicy, Retryable, call_with_retry

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
#: A recipient whose sending keeps killing the connection is given up, not retried forever.
MAX_LOSSES_PER_RECIPIENT = 3


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str | None) -> "SmtpTarget":
        """Parse ``SMTP_URL``; errors never repeat the URL, which holds the password."""
        if not url:
            raise ConfigError("SMTP_URL is not set (needed with DIGEST_PROVIDER=smtp)")
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigError(f"SMTP_URL: expected smtp:// or smtps://, got {parts.scheme or 'no'} scheme")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError("SMTP_URL: the port is not a number") from None
        if not parts.hostname:
            raise ConfigError("SMTP_URL: no host name")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 587),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class _LostAfterData(Exception):
    """The connection died while DATA was in flight: the message may have been taken."""


class SmtpProvider:
    name = "smtp"
    max_recipients = 1000

    def __init__(self, settings: Settings, *, timeout: float = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None, ssl_context: ssl.SSLContext | None = None):
        self.target = SmtpTarget.parse(settings.smtp_url)
        self._config = settings.config
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._ssl_context = ssl_context or ssl.create_default_context()
        # Headers build_message writes itself; anything else in a batch is passed on.
        self._built_in = {h.lower() for h in (*shared_headers(self._config), *recipient_headers(""))}

    def __repr__(self) -> str:
        return f"SmtpProvider(host={self.target.host!r}, port={self.target.port})"

    def send(self, batch: OutgoingBatch) -> SendResult:
        result = SendResult()
        pending = list(batch.recipients)
        what = f"SMTP batch {batch.batch_id} to {self.target.host}:{self.target.port}"
        conn = self._connect_with_retry(what)  # raises before anything was sent
        losses = 0  # connections lost on the current recipient before its DATA
        try:
            while pending:
                recipient = pending[0]
                try:
                    self._send_one(conn, batch, recipient, result)
                except _LostAfterData as exc:
                    result.ambiguous[recipient.email] = str(exc)
                    log.error("%s: %s may have been sent: %s", what, recipient.email, exc)
                    _quietly_close(conn)  # the next recipient gets a fresh connection
                except (smtplib.SMTPServerDisconnected, OSError) as exc:
                    losses += 1
                    _quietly_close(conn)
                    if losses >= MAX_LOSSES_PER_RECIPIENT:
                        result.rejected[recipient.email] = f"not sent: connection lost {losses} times ({exc})"
                    else:
                        log.warning("%s: connection lost before sending to %s (%s); reconnecting",
                                    what, recipient.email, exc)
                        conn = self._reconnect(what, pending, result)
                        continue
                pending.pop(0)
                losses = 0
                if pending and not _usable(conn):
                    _quietly_close(conn)
                    conn = self._reconnect(what, pending, result)
        finally:
            if conn is not None:
                _quietly_quit(conn)
        return result

    def close(self) -> None:
        """Connections live for one batch only; nothing stays open."""

    # ------------------------------------------------------------ one message

    def _send_one(self, conn: smtplib.SMTP, batch: OutgoingBatch, r: Recipient, result: SendResult) -> None:
        extra = {k: v for k, v in {**batch.headers, **r.headers}.items() if k.lower() not in self._built_in}
        msg = build_message(batch.body, config=self._config, to=r.email, tokens=r.tokens, extra_headers=extra)
        data = msg.as_bytes()
        options = ["BODY=8BITMIME"] if not data.isascii() and conn.has_extn("8bitmime") else []

        code, reply = conn.mail(self._config.publication.from_address, options)
        if code != 250:
            return self._refused(conn, result, r, "MAIL FROM", code, reply)
        code, reply = conn.rcpt(r.email)
        if code not in (250, 251):
            return self._refused(conn, result, r, "RCPT TO", code, reply)
        try:
            code, reply = conn.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: no message was sent
            return self._refused(conn, result, r, "DATA", exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _LostAfterData(f"connection lost while the message was being sent ({exc})") from None
        if code != 250:
            return self._refused(conn, result, r, "end of DATA", code, reply)
        result.per_recipient_ids[r.email] = str(msg["Message-ID"])

    def _refused(self, conn, result: SendResult, r: Recipient, stage: str, code: int, reply) -> None:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        if code == 421:  # the server is closing the connection: not this recipient's fault
            raise smtplib.SMTPServerDisconnected(f"{code} {text}")
        result.rejected[r.email] = f"{stage}: {code} {text}"
        log.warning("SMTP refused %s at %s: %s %s", r.email, stage, code, text)
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            pass  # a dead connection is noticed before the next recipient

    # ------------------------------------------------------------ connections

    def _reconnect(self, what: str, pending: list[Recipient], result: SendResult) -> smtplib.SMTP | None:
        try:
            return self._connect_with_retry(what)
        except ProviderError as exc:
            if not (result.per_recipient_ids or result.ambiguous or result.rejected):
                raise  # nothing happened yet: the whole batch is simply not sent
            for r in pending:
                result.rejected[r.email] = f"not sent: {exc}"
            pending.clear()
            return None

    def _connect_with_retry(self, what: str) -> smtplib.SMTP:
        return call_with_retry(self._connect, self.retry, what=what)

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        try:
            if t.implicit_tls:
                conn = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout, context=self._ssl_context)
            else:
                conn = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            conn.ehlo()
            if not t.implicit_tls and conn.has_extn("starttls"):
                conn.starttls(context=self._ssl_context)
                conn.ehlo()
            if t.username:
                self._login(conn)
            return conn
        except smtplib.SMTPAuthenticationError as exc:
            raise ProviderError(f"SMTP login as {t.username!r} refused: {exc.smtp_code} "
                                f"{exc.smtp_error.decode('utf-8', 'replace')}", permanent=True) from None
        except ssl.SSLCertVerificationError as exc:
            raise ProviderError(f"SMTP server {t.host} failed TLS verification: {exc}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise Retryable(f"could not connect to {t.host}:{t.port}: {exc}") from None

    def _login(self, conn: smtplib.SMTP) -> None:
        t = self.target
        encrypted = t.implicit_tls or getattr(conn, "sock", None) is not None and isinstance(conn.sock, ssl.SSLSocket)
        if not encrypted and not t.is_loopback:
            raise ProviderError(f"SMTP server {t.host} offers no STARTTLS; refusing to send the password "
                                "in clear text (use smtps://)", permanent=True)
        try:
            conn.login(t.username or "", t.password or "")
        except smtplib.SMTPNotSupportedError:
            raise ProviderError(f"SMTP server {t.host} does not offer AUTH", permanent=True) from None


def _usable(conn: smtplib.SMTP | None) -> bool:
    return conn is not None and getattr(conn, "sock", None) is not None


def _quietly_close(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except OSError:
            pass


def _quietly_quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        _quietly_close(conn)

