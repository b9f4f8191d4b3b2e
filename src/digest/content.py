"""Plain values that flow between stages: what selection picks, what rendering makes.

No ORM objects cross these boundaries, so a selection can be hashed (subscribers with
identical selections share one rendered body) and rendering never touches the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

# ----------------------------------------------------------------- selection


@dataclass(frozen=True)
class SponsorDisclosure:
    payer: str | None
    amount: str | None
    form: str | None
    text: str | None  # the full sentence as published, when there is one


@dataclass(frozen=True)
class BriefingItem:
    id: int
    url: str | None
    title: str
    body_html: str  # sanitised
    excerpt: str
    author: str | None
    published_at: datetime  # aware UTC
    date_label: str  # the date as shown, already in the subscriber's zone ("27 Nov 2026")
    topics: tuple[str, ...]
    attribution: str | None
    author_disclosure: str | None
    sponsor: SponsorDisclosure | None  # None: not sponsored
    is_editor_pick: bool = False


@dataclass(frozen=True)
class VideoItem:
    id: int
    url: str
    title: str
    description: str
    thumbnail_url: str | None
    published_at: datetime
    date_label: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class RelatedItem:
    """A headline only: what did not fit, or was cut to keep the email under budget."""

    id: int
    url: str | None
    title: str
    published_at: datetime
    date_label: str
    excerpt: str


@dataclass(frozen=True)
class TopicSection:
    slug: str
    title: str
    briefings: tuple[BriefingItem, ...]


@dataclass(frozen=True)
class Selection:
    """What one subscriber (or a topic set, for previews) gets in one edition.

    Nothing per-recipient is in here (dates are already labels in the reader's zone), so
    subscribers whose selections are equal share one rendered body.
    """

    edition_date: date
    topics: tuple[str, ...]  # the subscriber's topic slugs, sorted
    sections: tuple[TopicSection, ...]
    videos: tuple[VideoItem, ...] = ()
    recommended: tuple[BriefingItem, ...] = ()
    related: tuple[RelatedItem, ...] = ()
    note: str | None = None  # e.g. "nothing new today" when configured to send anyway

    @property
    def briefing_count(self) -> int:
        return sum(len(s.briefings) for s in self.sections)

    @property
    def is_empty(self) -> bool:
        return self.briefing_count == 0 and not self.videos

    def fingerprint(self) -> str:
        """Stable hash of everything that changes the rendered body."""
        data = asdict(self)
        payload = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()


# ----------------------------------------------------------------- rendering

#: Per-recipient values left as tokens in a rendered body and filled at send time
#: (SendGrid substitutions; string replacement for SMTP and the outbox).
TOKEN_NAMES = ("unsubscribe_url", "preferences_url", "archive_url", "email")
_TOKEN_RE = re.compile(r"%%([a-z_]+)%%")


def token(name: str) -> str:
    if name not in TOKEN_NAMES:
        raise KeyError(f"unknown per-recipient token {name!r}")
    return f"%%{name}%%"


def fill_tokens(text: str, values: dict[str, str]) -> str:
    """Replace every ``%%name%%``; a token without a value is an error, never left in."""

    def _sub(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise KeyError(f"no value for token %%{match.group(1)}%%") from None

    return _TOKEN_RE.sub(_sub, text)


def tokens_in(text: str) -> set[str]:
    return set(_TOKEN_RE.findall(text))


@dataclass(frozen=True)
class RenderedEmail:
    """One rendered body, shared by every recipient with the same selection."""

    subject: str
    preheader: str
    html: str
    text: str
    tokens: frozenset[str] = field(default_factory=frozenset)  # token names the body uses

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for part in (self.subject, self.preheader, self.html, self.text):
            h.update(part.encode())
            h.update(b"\x00")
        return h.hexdigest()
