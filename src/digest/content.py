"""Plain values that flow between stages: what selection picks, what rendering makes.

No ORM objects cross these boundaries, so a selection can be hashed (subscribers with
identical selections share one rendered body) and rendering never touches the database.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from .date_tokens import fill_dates

# ----------------------------------------------------------------- selection


def cached_repr(cls):
    """``cls``'s generated ``repr``, kept per item (an LRU keyed by the item, so equal items
    share it): a selection's fingerprint is the hash of its ``repr``
    (:meth:`Selection.fingerprint`), and the planner fingerprints each distinct selection
    of an edition, 1,786 at a million readers, spelling out the same items (their
    sanitised HTML included) each time. Same text as without the cache."""
    made = cls.__repr__
    text = lru_cache(maxsize=2048)(made)  # an edition has a few hundred items: a few MB

    def __repr__(self) -> str:
        try:
            return text(self)
        except TypeError:  # a field that cannot be hashed (a list given for a tuple): spelled out
            return made(self)

    __repr__.__wrapped__ = made
    cls.__repr__ = __repr__
    return cls


@dataclass(frozen=True)
class SponsorDisclosure:
    payer: str | None
    amount: str | None
    form: str | None
    text: str | None  # the full sentence as published, when there is one


@cached_repr
@dataclass(frozen=True)
class BriefingItem:
    id: int
    url: str | None
    title: str
    body_html: str  # sanitised
    excerpt: str
    author: str | None
    published_at: datetime  # aware UTC
    date_label: str  # a date token (see date_token), filled in the reader's zone when sent
    topics: tuple[str, ...]
    attribution: str | None
    author_disclosure: str | None
    sponsor: SponsorDisclosure | None  # None: not sponsored
    is_editor_pick: bool = False


@cached_repr
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


@cached_repr
@dataclass(frozen=True)
class RelatedItem:
    """A headline only: what did not fit, or was cut to keep the email under budget.

    A sponsored piece keeps its paid-promotion disclosure here too: a headline is printed
    with its short form ("Sponsored by X (USD 4,500, cash)"), never bare.
    """

    id: int
    url: str | None
    title: str
    published_at: datetime
    date_label: str
    excerpt: str
    sponsor: SponsorDisclosure | None = None  # None: not sponsored


@dataclass(frozen=True)
class TopicSection:
    slug: str
    title: str
    briefings: tuple[BriefingItem, ...]


@dataclass(frozen=True)
class Selection:
    """What one subscriber (or a topic set, for previews) gets in one edition.

    Nothing per-recipient is in here, not even the reader's time zone (dates are
    :func:`~digest.date_tokens.date_token` placeholders), so subscribers whose selections are equal share one
    rendered body wherever they live.
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
        cached = self.__dict__.get("_briefing_count")  # asked once per reader: computed once per object
        if cached is None:
            cached = sum(len(s.briefings) for s in self.sections)
            object.__setattr__(self, "_briefing_count", cached)
        return cached

    @property
    def is_empty(self) -> bool:
        return self.briefing_count == 0 and not self.videos

    def fingerprint(self) -> str:
        """Stable hash of everything that changes the rendered body; computed once per
        object (the selector hands one object to every reader with the same answer)."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            # The generated repr of these frozen dataclasses spells out every field, nested
            # (strings, ints, datetimes, tuples): equal selections, equal text. Five times
            # faster than JSON of asdict(). An in-process key, never stored.
            cached = hashlib.sha256(repr(self).encode()).hexdigest()
            object.__setattr__(self, "_fingerprint", cached)  # frozen: not a field, never compared
        return cached


# ----------------------------------------------------------------- rendering

#: Per-recipient values left as tokens in a rendered body and filled at send time
#: (SendGrid substitutions; string replacement for SMTP and the outbox).
TOKEN_NAMES = ("unsubscribe_url", "preferences_url", "archive_url", "email")
#: A date token is matched too (and left alone), so its closing ``%%`` never starts a
#: per-recipient token. Only the known names are tokens: a feed's own text such as
#: "%%foo%%" or "100%% sure" is content, left as it is, and never breaks a send.
#: A date that a batch's readers see on different days (their zones disagree) becomes a
#: per-recipient token ``%%date_N%%`` for that batch, filled like the links
#: (:mod:`digest.deliver.dates`). Never in a rendered body: only in a batch's copy of it.
_DATE_SLOT = r"date_\d{1,4}"
_TOKEN_RE = re.compile(r"%%(?:date:\d{12}|(" + "|".join(TOKEN_NAMES) + "|" + _DATE_SLOT + r"))%%")


def token(name: str) -> str:
    if name not in TOKEN_NAMES:
        raise KeyError(f"unknown per-recipient token {name!r}")
    return token_pattern(name)


def token_pattern(name: str) -> str:
    """``%%name%%`` for any per-recipient token name, date slots included."""
    return f"%%{name}%%"


def date_slot(number: int) -> str:
    """The name of a batch's ``number``-th per-recipient date (``date_1``, ...)."""
    return f"date_{number}"


def fill_tokens(text: str, values: dict[str, str]) -> str:
    """Replace every ``%%name%%``; a token without a value is an error, never left in.
    Date tokens are not per-recipient and stay as they are (see :func:`~digest.date_tokens.fill_dates`)."""

    def _sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:  # a date token
            return match.group(0)
        try:
            return values[name]
        except KeyError:
            raise KeyError(f"no value for token %%{name}%%") from None

    return _TOKEN_RE.sub(_sub, text)


def tokens_in(text: str) -> set[str]:
    """The per-recipient token names in ``text`` (date tokens are not among them)."""
    return {name for name in _TOKEN_RE.findall(text) if name}


@dataclass(frozen=True)
class RenderedEmail:
    """One rendered body, shared by every recipient with the same selection."""

    subject: str
    preheader: str
    html: str
    text: str
    tokens: frozenset[str] = field(default_factory=frozenset)  # token names the body uses

    def dated(self, timezone_name: str, now: datetime | None = None) -> "RenderedEmail":
        """This body with its date tokens filled in ``timezone_name``, the sent date
        ``now``'s (per-recipient tokens stay). What a preview or a proof hands on."""
        return RenderedEmail(
            subject=fill_dates(self.subject, timezone_name, now),
            preheader=fill_dates(self.preheader, timezone_name, now),
            html=fill_dates(self.html, timezone_name, now),
            text=fill_dates(self.text, timezone_name, now),
            tokens=self.tokens,
        )

    @property
    def fingerprint(self) -> str:
        """sha256 of the content (the stored body's key); computed once per object, so a
        body rendered in a worker process arrives with it."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            h = hashlib.sha256()
            for part in (self.subject, self.preheader, self.html, self.text):
                h.update(part.encode())
                h.update(b"\x00")
            cached = h.hexdigest()
            object.__setattr__(self, "_fingerprint", cached)  # frozen: not a field, never compared
        return cached
