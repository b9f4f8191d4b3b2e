"""A folder of hand-written Markdown files with YAML front matter.

Front matter keys (unknown keys are errors, so a misspelt ``attributon`` cannot
silently drop a legally required line)::

    kind: briefing | video            (default briefing)
    guid: ridgeline-lithium-001       (default "folder:" + file stem)
    title: ...                        (required)
    published: 2026-11-26T13:05:00Z   (required, ISO 8601 with a UTC offset)
    author, url, excerpt, attribution, author_disclosure ("none" allowed)
    topics: [slug, ...]               (else the category/keyword rules decide)
    categories: [Name, ...]
    sponsored: {payer: ..., amount: ..., form: ..., text: ...}   (text optional)
    editor_pick: true
    thumbnail: https://...            (videos)

The body is Markdown (a video's description). Attribution, disclosure and
paid-promotion paragraphs in the body are recognised like a feed's; front matter wins.
A file with bad front matter is rejected by name with the reason; the others go on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import frontmatter
import markdown
import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .checks import MAX_BODY_CHARS, ItemRejected
from .disclosures import extract_disclosures, normalise_disclosure
from .drafts import BriefingDraft, Draft, Parsed, Rejection, Sponsor, VideoDraft
from .sanitize import html_to_text, make_excerpt, one_line, safe_http_url, sanitize_html
from .youtube import MAX_DESCRIPTION_CHARS


class _Sponsored(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payer: str = Field(min_length=1)
    amount: str = Field(min_length=1)
    form: str = Field(min_length=1)
    text: str | None = Field(default=None, validation_alias=AliasChoices("text", "disclosure"))

    @field_validator("amount", "payer", "form", mode="before")
    @classmethod
    def _as_text(cls, value):
        return str(value) if isinstance(value, (int, float)) else value


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["briefing", "video"] = "briefing"
    guid: str | None = Field(default=None, min_length=1)  # lengths: one rule for every source (storable.py)
    title: str = Field(min_length=1)
    published: datetime
    author: str | None = None
    url: str | None = None
    topics: list[str] = []
    categories: list[str] = []
    attribution: str | None = None
    author_disclosure: str | None = None
    sponsored: _Sponsored | None = None
    editor_pick: bool = False
    excerpt: str | None = None
    thumbnail: str | None = None

    @field_validator("published")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-26T13:05:00Z")
        return value.astimezone(timezone.utc)

    @field_validator("sponsored", mode="before")
    @classmethod
    def _not_sponsored(cls, value):
        return None if value is False else value

    @field_validator("url", "thumbnail")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not safe_http_url(value):
            raise ValueError("must be an absolute http(s) URL")
        return value


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "front matter"
        parts.append(f"{key}: {err['msg']}")
    return "front matter: " + "; ".join(parts)


def markdown_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.md") if p.is_file())


def read_folder(path: Path) -> Parsed:
    """Every ``*.md`` file under ``path`` (or the one file ``path`` names)."""
    parsed = Parsed(kind="folder")
    seen: set[str] = set()
    for file in markdown_files(path):
        label = str(file.relative_to(path)) if file != path else file.name
        try:
            draft = read_file(file)
        except ItemRejected as exc:
            parsed.rejections.append(Rejection(label, str(exc), exc.code))
            continue
        if draft.guid in seen:
            parsed.rejections.append(Rejection(label, f"duplicate guid {draft.guid!r} (first file kept)", "duplicate"))
            continue
        seen.add(draft.guid)
        parsed.items.append(replace(draft, origin=label))
    return parsed


class FileRejected(ItemRejected):
    def __init__(self, message: str):
        super().__init__("bad-file", message)


def read_file(file: Path) -> Draft:
    try:
        if file.stat().st_size > MAX_BODY_CHARS:
            raise FileRejected(f"file is over the {MAX_BODY_CHARS // 1_000_000} MB limit")
        post = frontmatter.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise FileRejected("not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise FileRejected(f"front matter is not valid YAML: {one_line(str(exc), 160)}") from None
    except OSError as exc:
        raise FileRejected(f"cannot read: {exc.strerror or exc}") from None
    if not post.metadata:
        raise FileRejected("no YAML front matter (a '---' block with at least title and published)")
    try:
        meta = FrontMatter.model_validate(post.metadata)
    except ValidationError as exc:
        raise FileRejected(_explain(exc)) from None

    guid = meta.guid or f"folder:{file.stem}"
    body = sanitize_html(markdown.markdown(post.content, extensions=["extra", "sane_lists"]), base_url=meta.url)
    if meta.kind == "video":
        if not meta.url:
            raise FileRejected("front matter: url: a video needs its http(s) URL")
        return VideoDraft(
            guid=guid, title=meta.title.strip(), url=meta.url, published_at=meta.published,
            description=html_to_text(body)[:MAX_DESCRIPTION_CHARS], thumbnail_url=meta.thumbnail,
            categories=tuple(meta.categories), topics=tuple(meta.topics),
        )
    body, found = extract_disclosures(body)
    sponsor = found.sponsor
    if meta.sponsored:
        s = meta.sponsored
        sponsor = Sponsor(payer=s.payer, amount=s.amount, form=s.form,
                          text=s.text or (sponsor.text if sponsor else None))
    return BriefingDraft(
        guid=guid, title=meta.title.strip(), published_at=meta.published, url=meta.url,
        body_html=body, excerpt=make_excerpt(body, meta.excerpt),
        author=(meta.author or "").strip() or None,
        attribution=(meta.attribution or "").strip() or found.attribution,
        author_disclosure=normalise_disclosure(meta.author_disclosure) if meta.author_disclosure
        else found.author_disclosure,
        sponsor=sponsor, is_editor_pick=meta.editor_pick,
        categories=tuple(meta.categories), topics=tuple(meta.topics),
    )
