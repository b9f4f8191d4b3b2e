"""HTTP fetching with timeouts, a size cap and conditional requests.

No retries inside one run: the worker ingests again on its next tick (every
``schedule.ingest_every_minutes``), which is the retry, and a dead source must not hold
up the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx


DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
MAX_FEED_BYTES = 20 * 1024 * 1024
USER_AGENT = "digest-ingest/0.1 (+newsletter digest builder)"


class FetchError(Exception):
    """The whole source could not be fetched; the message says why, for the summary."""


@dataclass(frozen=True)
class Fetched:
    not_modified: bool
    content: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


def make_client(timeout: httpx.Timeout | float = DEFAULT_TIMEOUT) -> httpx.Client:
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        headers={"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, "
                 "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"},
    )


def fetch(client: httpx.Client, url: str, *, etag: str | None = None,
          last_modified: str | None = None, max_bytes: int = MAX_FEED_BYTES) -> Fetched:
    """GET ``url``, sending If-None-Match / If-Modified-Since when we have them."""
    target = httpx.URL(url)
    auth = None
    if target.userinfo:  # sent as a header, so the password never shows in httpx's request log
        auth = httpx.BasicAuth(target.username, target.password)
        target = target.copy_with(userinfo=b"")
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", target, headers=headers, auth=auth) as response:
            if response.status_code == 304:
                return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"response larger than {max_bytes:,} bytes, not read")
                chunks.append(chunk)
            return Fetched(
                not_modified=False,
                content=b"".join(chunks),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                content_type=response.headers.get("Content-Type"),
            )
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out ({type(exc).__name__})") from None
    except httpx.ConnectError as exc:
        raise FetchError(f"unreachable: {exc or 'connection failed'}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"HTTP error: {type(exc).__name__}: {exc}") from None
