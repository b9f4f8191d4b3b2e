"""UTM parameters on item links, added by digest itself where item links are rendered.

Asked of SendGrid (its "ganalytics" setting) they were added only as it sent, so the
preview, proofs and the SMTP and outbox providers showed links other than those sent.
Added here, every path shows the same link. A parameter the link already carries is
kept as the publisher wrote it. Clicks are traced back to their item with the UTM
parameters taken off again (:func:`without_utm`), so a report groups them per item.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .content import Selection
from .settings import Tracking

UTM_NAMES = ("utm_source", "utm_medium", "utm_campaign")


def with_utm(url: str, tracking: Tracking) -> str:
    """``url`` with ``[tracking]``'s UTM parameters appended (those it lacks)."""
    parts = urlsplit(url)
    present = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    wanted = [(name, getattr(tracking, name)) for name in UTM_NAMES if name not in present]
    if not wanted:
        return url
    query = f"{parts.query}&{urlencode(wanted)}" if parts.query else urlencode(wanted)
    return urlunsplit(parts._replace(query=query))


def without_utm(url: str) -> str:
    """``url`` with the UTM parameters digest adds taken off (the item's own link)."""
    parts = urlsplit(url)
    if "utm_" not in parts.query:
        return url
    kept = [(n, v) for n, v in parse_qsl(parts.query, keep_blank_values=True) if n not in UTM_NAMES]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def add_utm(selection: Selection, tracking: Tracking) -> Selection:
    """Every item link of ``selection`` (briefings, recommended, videos, related news)
    with UTM parameters when ``[tracking] utm`` is on; the selection itself otherwise."""
    if not tracking.utm:
        return selection

    def linked(item):
        return item if not item.url else replace(item, url=with_utm(item.url, tracking))

    return replace(
        selection,
        sections=tuple(replace(s, briefings=tuple(map(linked, s.briefings))) for s in selection.sections),
        recommended=tuple(map(linked, selection.recommended)),
        related=tuple(map(linked, selection.related)),
        videos=tuple(map(linked, selection.videos)),
    )
