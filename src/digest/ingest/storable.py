"""The last step before the store: every text clean, every value within its column.

One rule, the same whatever the backend: PostgreSQL refuses a value longer than its
``VARCHAR(n)`` ("value too long") while SQLite keeps it, so without this the same feed
stored on one and failed on the other. The limits are read from the models, so a column
and its rule cannot drift apart.

* every text and HTML field goes through :func:`digest.textclean.clean_text` (C0/C1
  controls, noncharacters, lone surrogates and NUL removed; NFC);
* text shown to a reader (title, excerpt, author, the sponsor's payer, amount and form) is
  shortened at a word, with an ellipsis, to its column; the whole paid-promotion sentence
  is kept in full beside them (a ``Text`` column);
* a guid or an item's link over its column is refused (``guid-too-long``,
  ``link-too-long``): cut, it would name another item or lead nowhere;
* a video's thumbnail link over its column is left out (the video is kept), with a note.
"""

from __future__ import annotations

from dataclasses import fields, replace

from ..models import Briefing, Source, Video
from ..textclean import clean_text
from .drafts import BriefingDraft, Draft, Sponsor, VideoDraft
from .refusals import ItemRejected
from .sanitize import one_line


def column_length(model, name: str) -> int:
    return model.__table__.c[name].type.length


GUID_CHARS = column_length(Briefing, "guid")
LINK_CHARS = column_length(Briefing, "url")
TITLE_CHARS = column_length(Briefing, "title")
EXCERPT_CHARS = column_length(Briefing, "excerpt")
AUTHOR_CHARS = column_length(Briefing, "author")
SOURCE_KEY_CHARS = column_length(Source, "key")
SOURCE_NAME_CHARS = column_length(Source, "name")
ETAG_CHARS = column_length(Source, "etag")
LAST_MODIFIED_CHARS = column_length(Source, "last_modified")
SPONSOR_CHARS = {
    "payer": column_length(Briefing, "sponsor_payer"),
    "amount": column_length(Briefing, "sponsor_amount"),
    "form": column_length(Briefing, "sponsor_form"),
}
assert column_length(Video, "title") == TITLE_CHARS and column_length(Video, "url") == LINK_CHARS
assert column_length(Video, "guid") == GUID_CHARS


def shorten(text: str | None, limit: int) -> str | None:
    """``text`` as it is when it fits, else cut at a word with an ellipsis (``…``)."""
    if text is None or len(text) <= limit:
        return text
    return one_line(text, limit)


def _clean(value):
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, tuple):
        return tuple(_clean(v) for v in value)
    if isinstance(value, Sponsor):
        return Sponsor(*(_clean(getattr(value, f.name)) for f in fields(Sponsor)))
    return value


def cleaned(draft: Draft) -> Draft:
    """``draft`` with every text in it cleaned (strings, tuples of strings, the sponsor)."""
    return replace(draft, **{f.name: _clean(getattr(draft, f.name)) for f in fields(draft)})


def storable(draft: Draft) -> tuple[Draft, list[str]]:
    """(the draft cleaned and fitted to its columns, notes on what was left out).

    Raises :class:`ItemRejected` for a guid or link the store cannot hold, or a title that
    was nothing but characters no email can carry.
    """
    draft = cleaned(draft)
    notes: list[str] = []
    if len(draft.guid) > GUID_CHARS:
        raise ItemRejected("guid-too-long", f"guid is {len(draft.guid):,} characters, over the {GUID_CHARS:,} "
                           "the store keeps")
    if draft.url and len(draft.url) > LINK_CHARS:
        raise ItemRejected("link-too-long", f"link is {len(draft.url):,} characters, over the {LINK_CHARS:,} "
                           "the store keeps")
    if not draft.title.strip():
        raise ItemRejected("no-title", "no title, and no text to make one from")
    changes: dict = {"title": shorten(draft.title, TITLE_CHARS)}
    if isinstance(draft, BriefingDraft):
        changes["excerpt"] = shorten(draft.excerpt, EXCERPT_CHARS)
        changes["author"] = shorten(draft.author, AUTHOR_CHARS)
        if draft.sponsor is not None:
            changes["sponsor"] = replace(draft.sponsor, **{
                name: shorten(getattr(draft.sponsor, name), limit) for name, limit in SPONSOR_CHARS.items()
            })
    elif isinstance(draft, VideoDraft) and draft.thumbnail_url and len(draft.thumbnail_url) > LINK_CHARS:
        notes.append(f"{draft.origin or draft.title!r}: thumbnail link is {len(draft.thumbnail_url):,} "
                     f"characters, over the {LINK_CHARS:,} the store keeps; left out")
        changes["thumbnail_url"] = None
    return replace(draft, **changes), notes
