"""YouTube channel Atom feeds as videos.

Each entry carries ``yt:videoId``, and a ``media:group`` with ``media:title``,
``media:thumbnail`` and ``media:description`` (plain text). feedparser flattens these
to ``yt_videoid``, ``media_thumbnail`` and ``media_description``.
"""

from __future__ import annotations

import re
from typing import Any

from .checks import ItemRejected, check_body_size, item_date, item_identity, item_title
from .drafts import VideoDraft
from .sanitize import html_to_text, safe_http_url

MAX_DESCRIPTION_CHARS = 5000
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")


def is_video_entry(entry: Any) -> bool:
    return bool(entry.get("yt_videoid"))


def entry_to_video(entry: Any) -> VideoDraft:
    guid, link = item_identity(entry)
    published = item_date(entry)
    video_id = (entry.get("yt_videoid") or "").strip()
    if not link and _VIDEO_ID.match(video_id):
        link = f"https://www.youtube.com/watch?v={video_id}"
    if not link:
        raise ItemRejected("no-video-link", "no http(s) link to the video")
    raw_description = entry.get("media_description") or entry.get("summary") or ""
    check_body_size(raw_description)
    title = item_title(entry, html_to_text(raw_description))
    thumbnails = entry.get("media_thumbnail") or []
    thumbnail = next((safe_http_url(t.get("url")) for t in thumbnails if safe_http_url(t.get("url"))), None)
    return VideoDraft(
        guid=guid,
        title=title,
        url=link,
        published_at=published,
        description=html_to_text(raw_description)[:MAX_DESCRIPTION_CHARS],
        thumbnail_url=thumbnail,
    )
