"""How SendGrid requests travel: over kept-alive HTTPS connections (httpcore), a few at most.

urllib, which sendgrid-python's client sends through, opens a new TCP connection and TLS
handshake for every request (``HTTPHandler.do_open`` closes it after the answer): an
edition of a million readers is 1,000 requests or more, each with its own. httpcore
(httpx's HTTP/1.1 layer) keeps connections alive. It is used directly: httpx's ``Client``
on top of it (building the request, merging URLs and headers, cookies, auth and
redirects, wrapping the response) cost CPU on every request, and a send is CPU-bound
(measured on two cores: ~0.48 ms of CPU per 1 KB request through it, ~0.32 ms without
it; ~1.0 ms and ~0.7 ms for 1 MB). HTTP/1.1 keep-alive is enough here: one request per
batch of up to 1,000 readers is few, large requests, which HTTP/2's multiplexing would
not speed up, and it would need the ``h2`` package besides.

:class:`KeptAliveOpener` is what python_http_client's ``Client._make_request(opener,
request, timeout)`` calls ``opener.open`` on, in place of urllib's opener: it takes the
same ``urllib.request.Request`` (URL, headers and body as sendgrid-python's client builds
them), sends it on a kept-alive connection, and raises ``urllib.error.HTTPError`` for an
error answer (its headers an ``http.client.HTTPMessage``, as urllib gives), so
``_make_request`` maps it to python_http_client's ``HTTPError`` subclasses as before.
Transport failures are sorted by whether the request can have reached SendGrid:

* :class:`RequestNotSent`: the request was not written to the end (no connection:
  refused, DNS, connect timeout, a TLS handshake that failed; or the connection failed
  while it was being written). A server can only take a request it read to its last byte:
  sending it again is safe.
* :class:`AnswerLost`: the request was written whole but its answer did not come (read
  timeout, reset, closed): SendGrid may have accepted it.

Which of the two is told by httpcore's trace of the request (its
``http11.send_request_body.complete`` event), not by the exception's type: httpcore
swallows a failed write and goes on to read an answer (a server may answer early), so a
request that was never written whole fails with a read error too.

A kept-alive connection the server closed while it sat idle is never used for a request:
before reusing one, httpcore checks that the idle socket has nothing to read (a closed
connection reads as end-of-file) and opens a new one instead; and connections idle for
:data:`KEEPALIVE_EXPIRY` are closed by us first, before the idle timeouts HTTP servers
commonly use (a minute or more; SendGrid documents none), so the server's close seldom
races our next request. Should it (the request written just as the server closes), the
answer is lost and the batch ambiguous, as for any lost answer: never resent unasked.

Connections are opened as requests need them (one thread sending one batch after another
uses one connection), and at most ``connections`` requests are in flight at once. Each
connection is an httpcore ``ConnectionPool`` of its own, of one connection (the pool is
what replaces it once it has expired or the server closed it), and a thread takes one (a
free one, else a new one while fewer than ``connections`` exist, else it waits its turn)
for one request, then gives it back: no httpcore pool is ever used by two threads at once.
A shared pool let one thread's pass over it close a connection it had just handed to
another thread: one kept-alive past :data:`KEEPALIVE_EXPIRY` as the other thread began its
request on it (a million-reader edition left a batch ambiguous so: "ReadError: Bad file
descriptor"), or an idle one when the pool was at its ``max_connections``.

SendGrid documents no limit on concurrent connections to the v3 API (only its rate
limits, answered with 429 and ``X-RateLimit-Reset``:
https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits);
the one figure it gives is for SMTP: "You may open up to 10k concurrent connections from a
single server" (https://docs.sendgrid.com/for-developers/sending-email/integrating-with-the-smtp-api).
:func:`connections_per_process` keeps every send within that figure.
"""

from __future__ import annotations

import http.client
import io
import ssl
import threading
import urllib.error
import urllib.request

import httpcore

#: SendGrid's documented ceiling on concurrent connections from one server (SMTP; none is
#: documented for the v3 API): every process of one send together stays under it.
DOCUMENTED_MAX_CONNECTIONS = 10_000
#: The most threads that send from one process (``DIGEST_SEND_CONCURRENCY`` is at most 64,
#: ``digest worker --threads`` at most 32): a process needs no more connections.
MAX_SENDING_THREADS = 64
#: Seconds an idle kept-alive connection is kept: less than any server's idle timeout.
KEEPALIVE_EXPIRY = 5.0
#: What httpcore raises when a request fails on its way (the errors httpx turned into its
#: ``TransportError``s): no one base class but ``Exception`` covers them.
TRANSPORT_ERRORS = (httpcore.NetworkError, httpcore.TimeoutException, httpcore.ProtocolError,
                    httpcore.UnsupportedProtocol, httpcore.ProxyError)


class RequestNotSent(Exception):
    """Nothing of the request reached SendGrid whole: sending it again is safe."""


class AnswerLost(Exception):
    """The request was written; its answer never came."""


def connections_per_process(processes: int) -> int:
    """The connections one sending process may open: one per thread it may send from,
    the send's ``processes`` together within :data:`DOCUMENTED_MAX_CONNECTIONS`."""
    return max(1, min(MAX_SENDING_THREADS, DOCUMENTED_MAX_CONNECTIONS // max(1, processes)))


def _timeouts(seconds: float) -> dict[str, float]:
    """httpcore's ``timeout`` extension: connect, each write, each read, and the wait for
    the pool's one connection (never waited for: one thread at a time)."""
    return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}


class KeptAliveOpener:
    """An ``opener`` for python_http_client's ``_make_request`` that sends over at most
    ``connections`` kept-alive connections, each used by one thread at a time (see the
    module's docstring). Thread-safe; :meth:`close` closes them."""

    def __init__(self, *, connections: int, timeout: float):
        self.connections = connections
        self.timeout = timeout
        self.tls_context = tls_context()
        self._timeouts = _timeouts(timeout)
        self._turns = threading.BoundedSemaphore(connections)
        self._lock = threading.Lock()
        self._free: list[httpcore.ConnectionPool] = []  # the most recently used last: taken first
        self._pools: list[httpcore.ConnectionPool] = []

    def _take(self) -> httpcore.ConnectionPool:
        self._turns.acquire()
        try:
            with self._lock:
                if self._free:
                    return self._free.pop()
                # One connection, one request at a time: the pool never closes a connection
                # another thread is using (there is none).
                pool = httpcore.ConnectionPool(
                    ssl_context=self.tls_context, max_connections=1, max_keepalive_connections=1,
                    keepalive_expiry=KEEPALIVE_EXPIRY, http1=True, http2=False,
                )
                self._pools.append(pool)
                return pool
        except BaseException:  # no pool taken: the turn is not either
            self._turns.release()
            raise

    def _give_back(self, pool: httpcore.ConnectionPool) -> None:
        with self._lock:
            self._free.append(pool)
        self._turns.release()

    def open(self, request: urllib.request.Request, timeout: float | None = None) -> "_Answer":
        written = False

        def trace(event: str, info: dict) -> None:
            nonlocal written
            if event == "http11.send_request_body.complete":
                written = True

        extensions = {"timeout": _timeouts(timeout) if timeout else self._timeouts, "trace": trace}
        pool = self._take()
        try:
            # The answer's body is read whole, and the connection left kept alive, before
            # request() returns.
            response = pool.request("POST", request.full_url, headers=request.header_items(),
                                    content=request.data, extensions=extensions)
        except TRANSPORT_ERRORS as exc:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if written:
                raise AnswerLost(message) from None
            raise RequestNotSent(str(exc) or type(exc).__name__) from None
        finally:
            self._give_back(pool)
        answer = _Answer(response)
        if answer.status >= 400:
            reason = response.extensions.get("reason_phrase", b"").decode("latin-1")
            raise urllib.error.HTTPError(request.full_url, answer.status, reason, answer.headers,
                                         io.BytesIO(answer.body))
        return answer

    def close(self) -> None:
        with self._lock:
            pools, self._pools, self._free = self._pools, [], []
        for pool in pools:
            pool.close()


class _Answer:
    """What python_http_client's ``Response`` reads from urllib's answer: the status, the
    body, and the headers as urllib gives them (an ``http.client.HTTPMessage``: looked up
    by any case, the first of a repeated name)."""

    def __init__(self, response: httpcore.Response):
        self.status = response.status
        self.body = response.content
        self.headers = http.client.HTTPMessage()
        for name, value in response.headers:  # bytes, decoded as http.client decodes them
            self.headers[name.decode("latin-1")] = value.decode("latin-1")

    def getcode(self) -> int:
        return self.status

    def read(self) -> bytes:
        return self.body

    def info(self) -> http.client.HTTPMessage:
        return self.headers


def tls_context() -> ssl.SSLContext:
    """The TLS context every connection of one provider uses, made once, when it is built.

    The context ``http.client.HTTPSConnection`` makes for itself (CPython 3.11
    http/client.py), so the handshake is the one urllib made: ``create_default_context()``
    (certificate and hostname verification on, the default CA paths, which honour
    ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``, read here), ALPN ``http/1.1``, TLS 1.3
    post-handshake authentication allowed where OpenSSL supports it. Made per connection,
    it cost ~20-25 ms of CPU (loading the CA bundle). One context serves every thread:
    nothing changes it after this function returns (httpcore sets its ALPN protocols
    again for each connection, to the same ``http/1.1``).
    """
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    if context.post_handshake_auth is not None:
        context.post_handshake_auth = True
    return context
