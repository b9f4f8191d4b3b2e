"""SendGrid provider: one v3 ``mail/send`` request per batch, through sendgrid-python.

How each failure is sorted (the only part that needs care):

* HTTP 429 and 5xx: SendGrid did not take the mail. Retried with backoff, waiting for
  ``X-RateLimit-Reset`` when SendGrid sends it, until the deadline; then a transient
  :class:`ProviderError`.
* Other HTTP errors (400, 401, 403, 413, ...): a retry gets the same answer. Permanent
  error at once, with SendGrid's error body logged (never the API key).
* No connection (refused, DNS, connect timeout): urllib wraps every failure *before the
  request was fully written* in ``URLError``, so nothing reached SendGrid. Retried.
* The request was written but its answer was lost (read timeout, reset, closed): the
  mail may have been accepted. Raised at once as ``ambiguous``; never resent here.

sendgrid-python sets no timeout (a stalled connection would hang the worker forever), so
every request passes one. Its HTTP client logs request headers, Authorization included, at
DEBUG level: that logger is held at INFO so the key can never reach a log.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
import urllib.error

from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient

from ..errors import ConfigError
from ..settings import Settings
from .provider import OutgoingBatch, ProviderError, SendResult
from .retry import RetryPolicy, Retryable, call_with_retry
from .sendgrid_payload import MAX_PERSONALIZATIONS, build_payload, encode_payload

log = logging.getLogger(__name__)

# python_http_client logs "HEADERS: {... 'Authorization': 'Bearer <key>' ...}" at DEBUG.
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
    ):
        if not settings.sendgrid_api_key:
            raise ConfigError("SENDGRID_API_KEY is not set (needed with DIGEST_PROVIDER=sendgrid)")
        self._config = settings.config
        self._host = settings.sendgrid_api_host
        self._client = SendGridAPIClient(settings.sendgrid_api_key, host=settings.sendgrid_api_host)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"SendGridProvider(host={self._host!r})"

    def send(self, batch: OutgoingBatch) -> SendResult:
        if not batch.recipients:
            return SendResult()
        # Encoded once: the size check and the wire use the same bytes (for a big edition
        # the JSON encoding is most of the provider's own work).
        body = encode_payload(build_payload(batch, self._config)).decode("utf-8")
        what = f"SendGrid batch {batch.batch_id} ({len(batch.recipients)} recipients)"
        response = call_with_retry(lambda: self._post(body, what), self.retry, what=what)
        message_id = response.headers.get("X-Message-Id")
        log.info("%s accepted: HTTP %s, X-Message-Id %s", what, response.status_code, message_id)
        return SendResult(message_id=message_id)

    def close(self) -> None:
        """Nothing to release: urllib opens one connection per request."""

    def _post(self, body: str, what: str):
        try:
            # A Content-Type other than the bare "application/json" makes python_http_client
            # send the string as it is instead of encoding it again.
            return self._client.client.mail.send.post(request_body=body, request_headers=JSON_UTF8,
                                                      timeout=self.timeout)
        except SendGridHTTPError as exc:
            raise _classify_http_error(exc, what) from None
        except urllib.error.URLError as exc:
            # Raised by urllib only while connecting or writing the request.
            raise Retryable(f"could not reach {self._host}: {exc.reason}") from None
        except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException, OSError) as exc:
            raise ProviderError(
                f"{what}: the request was sent but its answer was lost ({type(exc).__name__}: {exc}); "
                "SendGrid may have accepted it, so it is not resent automatically",
                ambiguous=True,
            ) from None


def _classify_http_error(exc: SendGridHTTPError, what: str) -> Exception:
    status = int(exc.status_code)
    detail = _error_detail(exc.body)
    if status == 429 or status >= 500:
        return Retryable(f"HTTP {status}: {detail}", retry_after=_retry_after(exc.headers))
    log.error("%s refused by SendGrid: HTTP %s: %s", what, status, detail)
    return ProviderError(f"{what}: SendGrid refused it: HTTP {status}: {detail}", permanent=True)


def _error_detail(body: bytes | str | None) -> str:
    """SendGrid's ``{"errors": [{"message", "field", "help"}]}`` as one line."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return "(no body)"
    try:
        errors = json.loads(body).get("errors") or []
        parts = [
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in errors
            if isinstance(e, dict)
        ]
        if parts:
            return "; ".join(parts)
    except (ValueError, AttributeError):
        pass
    return body[:500]


def _retry_after(headers) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (a Unix time), or ``Retry-After`` seconds."""
    if headers is None:
        return None
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    return None
