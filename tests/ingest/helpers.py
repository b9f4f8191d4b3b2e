"""Reading the store back in tests."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from sqlalchemy import select, text

from digest.ingest.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from digest.models import Briefing, Source, Video

CONTENT_TABLES = ("sources", "briefings", "videos", "briefing_topics", "video_topics")


def snapshot(runtime) -> dict[str, list[tuple]]:
    """Every row of the content tables, to compare before and after a run."""
    with runtime.engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}"))), key=repr) for t in CONTENT_TABLES}


def briefings(runtime) -> dict[str, Briefing]:
    with runtime.session() as session:
        rows = session.scalars(select(Briefing)).all()
        for row in rows:
            _ = row.topics
        return {row.guid: row for row in rows}


def videos(runtime) -> dict[str, Video]:
    with runtime.session() as session:
        rows = session.scalars(select(Video)).all()
        for row in rows:
            _ = row.topics
        return {row.guid: row for row in rows}


def source_row(runtime, key: str) -> Source:
    with runtime.session() as session:
        return session.scalar(select(Source).where(Source.key == key))


def slugs(row) -> list[str]:
    return [t.slug for t in row.topics]


def reasons(result) -> dict[str, str]:
    return {r.item: r.reason for r in result.rejections}


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def check_stored_html(body: str, where: str) -> None:
    """A stored body holds only the allow-list's tags and attributes, and links only to
    http(s) and mailto (parsed with html.parser, not searched for strings)."""
    parser = _Tags()
    parser.feed(body)
    parser.close()
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, (where, tag)
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        for name, value in attrs:
            assert name in allowed, (where, tag, name)
            if name in ("href", "src"):
                assert urlsplit(value or "").scheme in ("http", "https", "mailto"), (where, name, value)


def _email_checklist():
    """tests/render/checklist.py, loaded by path (it imports nothing relative)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "email_checklist", Path(__file__).resolve().parents[1] / "render" / "checklist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_active(checklist, rendered) -> None:
    """The checklist's lxml check (no active tag, handler, bad URL scheme or CSS) on a body."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    checklist.check_sanitised(msg)


def render_each(runtime, candidates) -> int:
    """Render every stored briefing alone through the Renderer (an item that lacks its
    disclosures gets them, as an editor would add them, so none is left out) and check the
    email with the checklist's lxml check for active content. Returns how many emails show
    their item's title."""
    from dataclasses import replace
    from datetime import date

    from digest.content import Selection, TopicSection
    from digest.render import Renderer
    from digest.select.rules import briefing_item

    checklist = _email_checklist()
    renderer = Renderer(runtime.settings.config)
    shown = 0
    for c in candidates:
        item = replace(briefing_item(c), attribution=c.attribution or "Information found via a test.",
                       author_disclosure=c.author_disclosure or "none")
        rendered = renderer.render(Selection(edition_date=date(2026, 11, 27), topics=("gold",),
                                             sections=(TopicSection("gold", "Gold", (item,)),)))
        _check_active(checklist, rendered)
        shown += item.title in rendered.text
    return shown


def render_videos(runtime, candidates) -> int:
    """Like :func:`render_each`, for stored videos (each alone in a video block)."""
    from datetime import date

    from digest.content import Selection
    from digest.render import Renderer
    from digest.select.rules import video_item

    checklist = _email_checklist()
    renderer = Renderer(runtime.settings.config)
    shown = 0
    for c in candidates:
        item = video_item(c)
        rendered = renderer.render(Selection(edition_date=date(2026, 11, 27), topics=("gold",), sections=(),
                                             videos=(item,)))
        _check_active(checklist, rendered)
        shown += item.title in rendered.text
    return shown
