"""A small feed server on 127.0.0.1 for ingestion tests.

Serves the fixture files (or bytes a test puts in place) with ETag and Last-Modified,
answers conditional requests with 304, records every request's headers, and has a
``/slow/...`` prefix that holds the answer until the test ends (for timeouts).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
LAST_MODIFIED = "Thu, 26 Nov 2026 15:10:00 GMT"


@dataclass
class Seen:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    authorization: str | None = None


class FeedServer:
    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requests: list[Seen] = []
        self.release = threading.Event()
        self.validators = True  # send ETag / Last-Modified
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def put(self, name: str, content: bytes) -> str:
        self.documents[name] = content
        return self.url(name)

    def _body(self, name: str) -> bytes | None:
        if name in self.documents:
            return self.documents[name]
        path = FIXTURES / name
        return path.read_bytes() if path.is_file() else None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        name = handler.path.lstrip("/")
        inm, ims = handler.headers.get("If-None-Match"), handler.headers.get("If-Modified-Since")
        if name.startswith("slow/"):
            self.release.wait(30)  # longer than any client timeout a test sets
            name = name[len("slow/"):]
        body = self._body(name)
        etag = '"' + hashlib.sha1(body).hexdigest() + '"' if body is not None else None
        fresh = body is not None and self.validators and (inm == etag or (inm is None and ims == LAST_MODIFIED))
        status = 404 if body is None else 304 if fresh else 200
        # Recorded before answering, so a test that got its answer always sees the request.
        self.requests.append(Seen(name, inm, ims, status, handler.headers.get("Authorization")))
        handler.send_response(status)
        if body is not None and self.validators:
            handler.send_header("ETag", etag)
            handler.send_header("Last-Modified", LAST_MODIFIED)
        if status == 200:
            handler.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)) if status == 200 else "0")
        handler.end_headers()
        if status == 200:
            try:
                handler.wfile.write(body)
            except OSError:  # the client gave up (timeout test)
                pass

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
