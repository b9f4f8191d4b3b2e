"""A minimal SendGrid-compatible sink for the benchmark: accepts and counts, keeps nothing.

``POST /v3/mail/send`` with the Bearer key answers ``202`` and an ``X-Message-Id``, like
SendGrid; the body is read in full, checked to be under 30 MB, and its personalizations
counted. ``GET /stats`` answers the totals as JSON, with the time each request
arrived. It runs in its own process
(``python benchmarks/sink.py --port 0`` prints the port it listens on) so its CPU and
memory are not the client's.

The full validating fake (every limit, every message expanded) is
``tests/fakes/sendgrid_server.py``; the path test uses that one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid

MAX_BODY_BYTES = 30 * 1024 * 1024
#: How each personalization starts in the JSON the provider sends (``{"to": [{"email": ...``).
PERSONALIZATION_MARKERS = (b'{"to": [{"email": ', b'{"to":[{"email":')


class Totals:
    def __init__(self) -> None:
        self.requests = 0
        self.personalizations = 0
        self.bytes = 0
        self.rejected = 0
        #: When each mail/send request arrived (``time.time()``, the clock the benchmarks
        #: stamp an edition's or a tick's start with): the first-request time.
        self.arrivals: list[float] = []

    def as_json(self) -> bytes:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return json.dumps({"requests": self.requests, "personalizations": self.personalizations,
                           "bytes": self.bytes, "rejected": self.rejected, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                           # Its own CPU, on the machine's cores beside the edition's (SendGrid's is not ours).
                           "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                           "first_request_at": self.arrivals[0] if self.arrivals else None,
                           "arrivals": self.arrivals}).encode()


def _response(status: str, body: bytes = b"", headers: dict[str, str] | None = None, *, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json",
             "Connection: " + ("keep-alive" if keep_alive else "close")]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, totals: Totals, api_key: str) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            body = await reader.readexactly(length) if length else b""
            keep_alive = headers.get("connection", "").lower() != "close"
            method, path = request_line.split(" ")[:2]
            if method == "POST":
                totals.arrivals.append(time.time())
            if method == "GET" and path == "/stats":
                writer.write(_response("200 OK", totals.as_json(), keep_alive=keep_alive))
            elif method == "POST" and path.rstrip("/") == "/v3/mail/send":
                if headers.get("authorization") != f"Bearer {api_key}":
                    totals.rejected += 1
                    writer.write(_response("401 Unauthorized", b'{"errors":[{"message":"bad key"}]}', keep_alive=keep_alive))
                elif length >= MAX_BODY_BYTES:
                    totals.rejected += 1
                    writer.write(_response("413 Payload Too Large", b'{"errors":[{"message":"too large"}]}', keep_alive=keep_alive))
                else:
                    totals.requests += 1
                    totals.bytes += length
                    totals.personalizations += sum(body.count(m) for m in PERSONALIZATION_MARKERS)
                    writer.write(_response("202 Accepted", headers={"X-Message-Id": uuid.uuid4().hex[:22]},
                                           keep_alive=keep_alive))
            else:
                writer.write(_response("404 Not Found", b"{}", keep_alive=keep_alive))
            await writer.drain()
            if not keep_alive:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, api_key: str) -> None:
    totals = Totals()
    server = await asyncio.start_server(lambda r, w: _serve(r, w, totals, api_key), "127.0.0.1", port,
                                        limit=1 << 20, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="SG.benchmark-key")
    args = parser.parse_args()
    try:
        asyncio.run(main(args.port, args.api_key))
    except KeyboardInterrupt:
        sys.exit(0)
