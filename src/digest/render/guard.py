"""Last gates before the email exists.

No briefing card goes out without its source attribution and author disclosure:
selection should already have left such items out; with ``selection.strict`` the render
fails naming the item, otherwise the item is dropped and named in the log.

No link or image in the email points anywhere but http(s): ingestion checks URLs, and
this repeats the same check (:func:`digest.safe_html.safe_http_url`), so a
``javascript:`` URL in a stored row can never become an href.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import replace

from ..content import BriefingItem, Selection, TopicSection, VideoItem
from ..safe_html import safe_http_url
from .errors import DisclosureMissing

log = logging.getLogger(__name__)


def missing_disclosures(item: BriefingItem) -> list[str]:
    required = (("source attribution", item.attribution), ("author disclosure", item.author_disclosure))
    return [name for name, text in required if not (text and text.strip())]


def require_disclosures(selection: Selection, *, strict: bool) -> Selection:
    def keep(item: BriefingItem) -> bool:
        missing = missing_disclosures(item)
        if not missing:
            return True
        what = f"briefing {item.id} ({item.title!r}) has no {' or '.join(missing)}"
        if strict:
            raise DisclosureMissing(f"{what}: not rendered (selection.strict = true)")
        log.warning("%s: left out of the edition", what)
        return False

    sections = tuple(_with_briefings(s, tuple(b for b in s.briefings if keep(b))) for s in selection.sections)
    recommended = tuple(b for b in selection.recommended if keep(b))
    if _same(sections, selection.sections) and _same(recommended, selection.recommended):
        return selection
    return replace(selection, sections=sections, recommended=recommended)


def _same(new: tuple, old: tuple) -> bool:
    """The same objects (compared by identity: a body's items are compared field by field
    otherwise, a few microseconds each)."""
    return len(new) == len(old) and all(map(operator.is_, new, old))


def _with_briefings(section: TopicSection, briefings: tuple) -> TopicSection:
    """``section`` itself when its briefings are the same objects."""
    return section if _same(briefings, section.briefings) else replace(section, briefings=briefings)


def drop_unsafe_urls(selection: Selection) -> Selection:
    """Unsafe item links become plain titles; a video without a safe link is left out."""

    def briefing(item):  # a briefing or a related headline: an unsafe link, a plain title
        url = safe_http_url(item.url)
        return item if url == item.url else replace(item, url=url)

    videos: list[VideoItem] = []
    for video in selection.videos:
        url = safe_http_url(video.url)
        if url is None:
            log.warning("video %s (%r) has no http(s) link: left out of the edition", video.id, video.title)
            continue
        thumbnail = safe_http_url(video.thumbnail_url)
        same = (url, thumbnail) == (video.url, video.thumbnail_url)
        videos.append(video if same else replace(video, url=url, thumbnail_url=thumbnail))
    sections = tuple(_with_briefings(s, tuple(map(briefing, s.briefings))) for s in selection.sections)
    recommended = tuple(map(briefing, selection.recommended))
    related = tuple(map(briefing, selection.related))
    if all(map(_same, (sections, recommended, related, tuple(videos)),
               (selection.sections, selection.recommended, selection.related, selection.videos))):
        return selection  # the usual case: nothing to drop, the same objects
    return replace(selection, sections=sections, recommended=recommended, related=related, videos=tuple(videos))
