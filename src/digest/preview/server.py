"""``digest preview --serve``: a local page that re-renders on every template, config or
content change, with controls for topic set, subscriber, date and phone/desktop width.

Bound to 127.0.0.1 only: it shows subscriber addresses and is an editor's tool, not a
public page. Like every preview it reads and never writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import date
from html import escape
from pathlib import Path

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..errors import DigestError
from ..models import Subscriber
from ..paths import email_templates_dir
from ..render import Renderer
from .approve import review_routes
from ..runtime import Runtime
from ..settings import PublicationConfig, load_publication_config
from .build import PreviewError, PreviewRequest, build_preview
from .page import control_page
from .watch import FileFilter, Version, poll_content, watch_files

SUBSCRIBERS_LISTED = 200


class LivePreview:
    """Rebuilds config and renderer once per change, then serves previews from them."""

    def __init__(self, runtime: Runtime, templates_dir: Path | None = None):
        self.runtime = runtime
        self.templates_dir = templates_dir or email_templates_dir()
        self.version = Version()
        self._lock = threading.Lock()
        self._built: tuple[int, PublicationConfig, Renderer] | None = None

    def current(self) -> tuple[PublicationConfig, Renderer]:
        with self._lock:
            version = self.version.value
            if self._built is None or self._built[0] != version:
                config = load_publication_config(self.runtime.settings.config_path)
                self._built = (version, config, Renderer(config, self.templates_dir))
            return self._built[1], self._built[2]

    def file_filter(self) -> FileFilter:
        return FileFilter([self.templates_dir], [self.runtime.settings.config_path])

    def subscribers(self) -> list[str]:
        with self.runtime.session() as session:
            return list(session.scalars(select(Subscriber.email).order_by(Subscriber.email).limit(SUBSCRIBERS_LISTED)))


def parse_request(params) -> PreviewRequest:
    topics = tuple(t.strip() for t in params.get("topics", "").split(",") if t.strip())
    text_date = params.get("date", "").strip()
    try:
        edition_date = date.fromisoformat(text_date) if text_date else None
    except ValueError:
        raise PreviewError(f"date must be YYYY-MM-DD; got {text_date!r}") from None
    return PreviewRequest(topics=topics, subscriber=params.get("subscriber", "").strip() or None, edition_date=edition_date)


def _error_page(message: str, status: int) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>Preview error</title>'
        '<body style="font:14px system-ui,sans-serif;padding:16px"><h1 style="color:#b91c1c">Preview failed</h1>'
        f'<pre style="white-space:pre-wrap">{escape(message)}</pre></body></html>'
    )
    return HTMLResponse(body, status_code=status)


def _note(note: str) -> str:
    return (f'<p id="nothing-new" style="font:15px/1.5 system-ui,sans-serif;background:#fef3c7;margin:0;'
            f'padding:1rem">{escape(note)}. What such an email would look like:</p>')


def create_app(
    runtime: Runtime, *, templates_dir: Path | None = None, poll_seconds: float = 1.0, watch: bool = True
) -> Starlette:
    live = LivePreview(runtime, templates_dir)

    def index(request: Request) -> Response:
        try:
            config, _ = live.current()
        except DigestError as exc:
            return _error_page(str(exc), 500)
        return HTMLResponse(control_page(config, live.subscribers(), live.version.value, int(poll_seconds * 1000)))

    def render(request: Request) -> Response:
        fmt = request.query_params.get("format", "html")
        try:
            preview_request = parse_request(request.query_params)
            config, renderer = live.current()
            with runtime.session() as session:
                preview = build_preview(session, runtime.settings, preview_request, config=config, renderer=renderer)
                session.rollback()  # belt and braces: a preview never commits anything
        except PreviewError as exc:
            return _error_page(str(exc), 400)
        except DigestError as exc:
            return _error_page(str(exc), 500)
        note = preview.nothing_new()  # an empty email is shown under why no reader would get it
        if fmt == "txt":
            return PlainTextResponse((f"[{note}]\n\n" if note else "") + preview.as_text())
        if note:
            return HTMLResponse(_note(note) + preview.as_html())
        return HTMLResponse(preview.as_html())

    def version(request: Request) -> Response:
        return JSONResponse({"version": live.version.value}, headers={"Cache-Control": "no-store"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        stop = asyncio.Event()
        tasks = []
        if watch:
            tasks = [
                asyncio.create_task(watch_files(live.file_filter(), live.version, stop)),
                asyncio.create_task(poll_content(runtime, live.version, stop, poll_seconds)),
            ]
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    app = Starlette(
        routes=[Route("/", index), Route("/render", render), Route("/version", version), *review_routes(runtime)],
        lifespan=lifespan,
    )
    app.state.live = live
    return app


def serve(runtime: Runtime, port: int, *, open_browser: bool = False) -> None:
    """Run the live preview on 127.0.0.1 until interrupted."""
    import uvicorn

    url = f"http://127.0.0.1:{port}/"
    if open_browser:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    print(f"live preview at {url} (Ctrl+C to stop)")
    uvicorn.run(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
