"""SendGrid provider: one v3 ``mail/send`` request per batch, through sendgrid-python.

How each failure is sorted (the only part that needs care):

* HTTP 429 and 5xx: SendGrid did not take the mail. Retried with backoff, waiting for
  ``X-RateLimit-Reset`` when SendGrid sends it, until the deadline; then a transient
  :class:`ProviderError`.
* HTTP 400 whose errors all name personalizations (``personalizations.3.to.0.email``,
  SendGrid's documented ``{"errors": [{"message", "field", "help"}]}``): those recipients
  are refused with SendGrid's reason (the index mapped to the address) and the rest of the
  batch is sent again at once, without them. A request is never sent twice for the same
  refusal.
* HTTP 401/403: the key (or its permissions) is refused, and will be for every batch:
  a halting :class:`ProviderError`, one message; nothing is sent and the batch goes back
  to the queue.
* HTTP 413 (or a body found over the 30 MB limit before sending): the batch is sent in two
  halves, each halved again if needed.
* Other HTTP errors (a 400 about the request itself, ...): a retry gets the same answer.
  Permanent error at once, with SendGrid's error body logged (never the API key).
* Once part of a batch went out (after a refusal or a split), a later part's failure
  becomes those recipients' own outcome (``unsent`` or ``ambiguous``), not the batch's.
* No connection (refused, DNS, connect timeout, a TLS handshake that failed: certificate
  not trusted, wrong hostname), or a request that could not be written whole: nothing
  reached SendGrid (:class:`~.sendgrid_transport.RequestNotSent`). Retried.
* The request was written but its answer was lost (read timeout, reset, closed): the
  mail may have been accepted. Raised at once as ``ambiguous``; never resent here.

sendgrid-python sets no timeout (a stalled connection would hang the worker forever), so
every request passes one.

Each request is built here rather than by python_http_client's ``client.mail.send.post``:
that call builds a new urllib opener, formats the whole body and the headers into DEBUG
log messages whether DEBUG is on or not, and wanted the orjson bytes as a ``str`` only to
encode them again. The URL, the Authorization/User-Agent/Accept headers and the sending
itself (``Client._make_request``, which turns HTTP errors into python_http_client's
``HTTPError`` subclasses) still come from sendgrid-python's client, so the request on the
wire and the errors sorted above are the same; the body is the encoded bytes, untouched.
Neither the body nor the headers are put into any log message. python_http_client's own
request logging (headers, Authorization included, at DEBUG) is not on this path; its
logger is still held at INFO in case anything else in the process sends through
sendgrid-python's client.

The transport is not sendgrid-python's (urllib: a new TCP connection and TLS handshake
per request) but kept-alive connections (httpcore), shared by the provider's threads but
each used by one at a time, at most one per thread sending (:mod:`.sendgrid_transport`,
which says why and what SendGrid documents). The TLS context is made once, when the
provider is built.

A 429 slows every sender, not just the one that got it (:mod:`.rate_limit`): the reset
time it names becomes this provider's :attr:`SendGridProvider.pause`, which every thread
waits out before its next request, and which the batch layer shares with the other
processes sending the same edition (:mod:`digest.deliver.batch`).
"""

from __future__ import annotations

import logging
import time
import urllib.request
from dataclasses import replace

from python_http_client.client import Response as SendGridResponse
from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient

from ...errors import ConfigError
from ...settings import Settings
from .base import OutgoingBatch, ProviderError, Recipient, SendResult
from .rate_limit import RateLimitPause
from .retry import RetryPolicy, Retryable, call_with_retry
from .sendgrid_answers import RecipientsRefused, classify_http_error
from .sendgrid_payload import MAX_PERSONALIZATIONS, PayloadTooLarge, build_payload, encode_payload
from .sendgrid_transport import AnswerLost, KeptAliveOpener, RequestNotSent, connections_per_process

log = logging.getLogger(__name__)

# python_http_client logs "HEADERS: {... 'Authorization': 'Bearer <key>' ...}" at DEBUG
# when a request goes through its ``client.<path>.post(...)``; ours no longer do (see
# _post), but anything else in the process might.
logging.getLogger("python_http_client.client").setLevel(logging.INFO)

DEFAULT_TIMEOUT = 30.0  # seconds, for connect and for each read of the answer
JSON_UTF8 = {"Content-Type": "application/json; charset=utf-8"}


class SendGridProvider:
    name = "sendgrid"
    max_recipients = MAX_PERSONALIZATIONS

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        connections: int | None = None,
    ):
        if not settings.sendgrid_api_key:
            raise ConfigError("SENDGRID_API_KEY is not set (needed with DIGEST_PROVIDER=sendgrid)")
        self._config = settings.config
        # Settings strip a trailing slash already; a Settings built by hand may not.
        self._host = settings.sendgrid_api_host.rstrip("/")
        self._client = SendGridAPIClient(settings.sendgrid_api_key, host=self._host)
        # host + "/v3" + "/mail/send", built by python_http_client itself, as its
        # ``client.mail.send.post()`` would for every request.
        self._url = self._client.client.mail.send._build_url(None)
        # In place of the urllib opener python_http_client builds per request: kept-alive
        # connections, at most one per thread sending, each used by one thread at a time
        # (each process of a send has its own; together they stay within SendGrid's
        # documented figure).
        self._opener = KeptAliveOpener(
            connections=connections or connections_per_process(settings.send_processes), timeout=timeout)
        # Authorization, User-Agent and Accept from sendgrid-python, then ours.
        self._headers = {**self._client.client.request_headers, **JSON_UTF8}
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.pause = RateLimitPause()  # shared by this provider's threads

    def __repr__(self) -> str:
        return f"SendGridProvider(host={self._host!r})"

    def send(self, batch: OutgoingBatch) -> SendResult:
        result = SendResult()
        if batch.recipients:
            self._send_part(batch, list(batch.recipients), result, split=False)
        return result

    def _send_part(self, batch: OutgoingBatch, recipients: list[Recipient], result: SendResult, *, split: bool) -> None:
        """Send ``recipients`` of ``batch`` in one request (less those SendGrid refuses by
        name; in halves if too large), recording each one's outcome in ``result``."""
        while recipients:
            what = f"SendGrid batch {batch.batch_id} ({len(recipients)} recipients)"
            try:
                # Encoded once: the size check and the wire use the same bytes, sent as they
                # are (for a big edition the JSON encoding is most of the provider's own work).
                body = encode_payload(build_payload(replace(batch, recipients=recipients), self._config))
                response = call_with_retry(lambda: self._post(body, what, batch.edition_id), self.retry, what=what)
            except RecipientsRefused as exc:
                if max(exc.reasons) >= len(recipients):  # names no recipient of ours: about the request
                    self._part_failed(ProviderError(f"{exc}: {exc.reasons}", permanent=True), recipients, result)
                    return
                for index, reason in exc.reasons.items():
                    result.rejected[recipients[index].email] = reason
                    log.warning("%s: SendGrid refused %s: %s", what, recipients[index].email, reason)
                recipients = [r for i, r in enumerate(recipients) if i not in exc.reasons]
                continue  # the others at once: the refused request delivered nothing
            except PayloadTooLarge as exc:
                if len(recipients) > 1:
                    log.info("%s: %s; sending it in two halves", what, exc)
                    half = len(recipients) // 2
                    self._send_part(batch, recipients[:half], result, split=True)
                    self._send_part(batch, recipients[half:], result, split=True)
                    return
                self._part_failed(exc, recipients, result)
                return
            except ProviderError as exc:
                self._part_failed(exc, recipients, result)
                return
            message_id = response.headers.get("X-Message-Id")
            log.info("%s accepted: HTTP %s, X-Message-Id %s", what, response.status_code, message_id)
            if split:  # one id per request: each recipient keeps the id of their own
                result.per_recipient_ids.update((r.email, message_id) for r in recipients)
            result.message_id = result.message_id or message_id
            return

    @staticmethod
    def _part_failed(exc: ProviderError, recipients: list[Recipient], result: SendResult) -> None:
        """A whole batch's failure is raised (the ledger records it for the batch); once
        part of it went out or was refused, it is these recipients' own outcome."""
        if not (result.message_id or result.per_recipient_ids or result.rejected or result.unsent or result.ambiguous):
            raise exc
        outcome = result.ambiguous if exc.ambiguous else result.unsent
        outcome.update((r.email, str(exc)) for r in recipients)
        if exc.halt:
            result.halt = str(exc)

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._opener.close()

    def _post(self, body: bytes, what: str, edition_id: int | None = None) -> SendGridResponse:
        self.pause.wait(self.retry)  # another sender's 429: not before its reset
        client = self._client.client
        # A new Request per attempt: it only carries the URL, headers and body to the opener.
        request = urllib.request.Request(self._url, data=body, headers=self._headers, method="POST")
        try:
            # _make_request maps an HTTP error answer to python_http_client's HTTPError
            # subclasses, as client.mail.send.post() does; nothing here logs the request.
            return SendGridResponse(client._make_request(self._opener, request, timeout=self.timeout))
        except SendGridHTTPError as exc:
            error = classify_http_error(exc, what)
            if int(exc.status_code) == 429 and isinstance(error, Retryable) and error.retry_after:
                self.pause.extend(time.time() + error.retry_after, edition_id)
            raise error from None
        except RequestNotSent as exc:
            raise Retryable(f"could not reach {self._host}: {exc}") from None
        except AnswerLost as exc:
            raise ProviderError(
                f"{what}: the request was sent but its answer was lost ({exc}); "
                "SendGrid may have accepted it, so it is not resent automatically",
                ambiguous=True,
            ) from None
