"""SMTP provider (smtplib): one connection per batch, one message per recipient.

``SMTP_URL`` is ``smtp://user:pass@host:port`` (STARTTLS whenever the server offers it)
or ``smtps://...`` (TLS from the first byte). Credentials are never sent in clear text
to anything but a loopback address.

Why each recipient is sent with explicit MAIL / RCPT / DATA commands rather than
``send_message``: the stage at which a connection dies, and the class of an answer,
decide what we may do next.

* A temporary answer (4xx: 421 "closing", 450/451 "try later", 452 "too many
  recipients"), or a connection lost before DATA was answered: the server has not taken
  the message. The connection is closed and, after a backoff (tenacity, the provider's
  :class:`RetryPolicy`), the same recipient and then the rest of the batch go on over a
  new one; nothing is sent twice. A recipient still refused when the retries run out is
  ``unsent`` (failed, retryable); if the next recipient is refused at once too, the server
  is not taking mail and the rest of the batch is ``unsent`` with them, rather than
  knocking on a closed door once per reader.
* Lost during DATA (while the message or its final answer is in flight): the server may
  have queued it. That recipient is reported in ``SendResult.ambiguous`` and is never
  retried here; the others go on over a new connection.
* A permanent answer (5xx) at RCPT or at the end of DATA: the server refused that
  address (``SendResult.rejected``); the others go on. A 5xx to MAIL FROM or to the DATA
  command is about the sender or the server, not the address: that reader is ``unsent``.

If no connection can be made before anything was sent, the whole batch raises a
transient :class:`ProviderError` (safe to send later). A connection refused for good
later on (the login refused, say) leaves the rest of the batch ``unsent``.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from ...errors import ConfigError
from ...message import recipient_headers, shared_headers
from ...settings import Settings
from .base import OutgoingBatch, ProviderError, Recipient, SendResult, frame_message
from tenacity import Retrying, retry_if_exception_type, stop_before_delay

from .retry import RetryPolicy, Retryable, backoff_wait, call_with_retry

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


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


class _Temporary(Exception):
    """A 4xx answer, or a connection lost before DATA: nothing was taken; try again later."""


class _GaveUp(Exception):
    """One recipient's temporary refusals outlasted the retries."""


class SmtpProvider:
    name = "smtp"
    max_recipients = 1000

    def __init__(self, settings: Settings, *, timeout: float = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None, ssl_context: ssl.SSLContext | None = None):
        self.target = SmtpTarget.parse(settings.smtp_url)
        self._config = settings.config
        self._secret = settings.secret_key  # an edition's Message-IDs (frame_message), for digest audit
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._ssl_context = ssl_context or ssl.create_default_context()
        # Headers build_message writes itself; anything else in a batch is passed on.
        self._built_in = {h.lower() for h in (*shared_headers(self._config), *recipient_headers(""))}

    def __repr__(self) -> str:
        return f"SmtpProvider(host={self.target.host!r}, port={self.target.port})"

    def send(self, batch: OutgoingBatch) -> SendResult:
        result = SendResult()
        what = f"SMTP batch {batch.batch_id} to {self.target.host}:{self.target.port}"
        session = _Session(self._connect_with_retry(what))  # raises before anything was sent
        gave_up = False  # the previous recipient's retries ran out
        try:
            for index, recipient in enumerate(batch.recipients):
                try:
                    # After a give-up, one attempt only: a server still refusing is not taking mail.
                    self._deliver(session, batch, recipient, result, what, patient=not gave_up)
                    gave_up = False
                except _GaveUp as exc:
                    waiting = batch.recipients[index:] if gave_up else [recipient]
                    result.unsent.update((r.email, f"not sent: {exc}") for r in waiting)
                    log.warning("%s: %s; %d recipient(s) left for a retry", what, exc, len(waiting))
                    if gave_up:
                        break
                    gave_up = True
                except ProviderError as exc:  # e.g. the login refused on a new connection
                    if not (result.per_recipient_ids or result.rejected or result.unsent or result.ambiguous):
                        raise
                    result.unsent.update((r.email, f"not sent: {exc}") for r in batch.recipients[index:])
                    break
        finally:
            session.close()
        return result

    def close(self) -> None:
        """Connections live for one batch only; nothing stays open."""

    def _deliver(self, session: "_Session", batch: OutgoingBatch, r: Recipient, result: SendResult, what: str,
                 *, patient: bool) -> None:
        """Send to one recipient, over a new connection after a backoff while the server
        answers with temporary refusals; raise :class:`_GaveUp` when the retries run out."""
        policy = self.retry if patient else replace(self.retry, deadline=0.0)

        def attempt() -> None:
            if not _usable(session.conn):
                session.close()
                session.conn = self._connect()  # Retryable when it cannot connect: waited for too
            try:
                self._send_one(session.conn, batch, r, result)
            except _LostAfterData as exc:
                result.ambiguous[r.email] = str(exc)
                log.error("%s: %s may have been sent: %s", what, r.email, exc)
                session.close()  # the next recipient gets a fresh connection
            except (_Temporary, smtplib.SMTPServerDisconnected, OSError) as exc:
                session.close(polite=isinstance(exc, _Temporary))
                raise _Temporary(str(exc)) from None

        retrying = Retrying(retry=retry_if_exception_type((_Temporary, Retryable)),
                            stop=stop_before_delay(policy.deadline), wait=backoff_wait(policy), sleep=policy.sleep,
                            before_sleep=lambda state: log.warning(
                                "%s: %s not taken yet (%s); trying again on a new connection in %.2fs",
                                what, r.email, state.outcome.exception(), state.upcoming_sleep),
                            reraise=True)
        try:
            retrying(attempt)
        except (_Temporary, Retryable) as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise _GaveUp(f"temporarily refused {attempts} time(s), last: {exc}") from None

    # ------------------------------------------------------------ one message

    def _send_one(self, conn: smtplib.SMTP, batch: OutgoingBatch, r: Recipient, result: SendResult) -> None:
        extra = {k: v for k, v in {**batch.headers, **r.headers}.items() if k.lower() not in self._built_in}
        msg = frame_message(batch, r, config=self._config, secret=self._secret, extra_headers=extra)
        data = msg.as_bytes()
        options = ["BODY=8BITMIME"] if not data.isascii() and conn.has_extn("8bitmime") else []

        code, reply = conn.mail(self._config.publication.from_address, options)
        if code != 250:
            return self._refused(conn, result, r, "MAIL FROM", code, reply, address_refused=False)
        code, reply = conn.rcpt(r.email)
        if code not in (250, 251):
            return self._refused(conn, result, r, "RCPT TO", code, reply)
        try:
            code, reply = conn.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: no message was sent
            return self._refused(conn, result, r, "DATA", exc.smtp_code, exc.smtp_error, address_refused=False)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _LostAfterData(f"connection lost while the message was being sent ({exc})") from None
        if code != 250:
            return self._refused(conn, result, r, "end of DATA", code, reply)
        result.per_recipient_ids[r.email] = str(msg["Message-ID"])

    def _refused(self, conn, result: SendResult, r: Recipient, stage: str, code: int, reply, *,
                 address_refused: bool = True) -> None:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        if 400 <= code < 500:  # temporary (421 closing, 450/451 try later, 452 too many): not this reader's fault
            raise _Temporary(f"{stage}: {code} {text}")
        outcome = result.rejected if address_refused else result.unsent
        outcome[r.email] = f"{stage}: {code} {text}"
        log.warning("SMTP refused %s at %s: %s %s", r.email, stage, code, text)
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            pass  # a dead connection is noticed before the next recipient

    # ------------------------------------------------------------ connections

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


class _Session:
    """The batch's current connection, replaced whenever a temporary refusal closes it."""

    def __init__(self, conn: smtplib.SMTP | None):
        self.conn = conn

    def close(self, *, polite: bool = True) -> None:
        if self.conn is not None:
            (_quietly_quit if polite else _quietly_close)(self.conn)
            self.conn = None


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

