"""Plain values that flow between stages: what selection picks, what rendering makes.

No ORM objects cross these boundaries, so a selection can be hashed (subscribers with
identical selections share one rendered body) and rendering never touches the database.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache

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
    :func:`date_token` placeholders), so subscribers whose selections are equal share one
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


# ----------------------------------------------------------------- dates

#: A date left as a placeholder in a rendered body, ``%%date:YYYYMMDDHHMM%%`` (the UTC
#: minute), and filled in the reader's zone for each batch, preview or archive page.
_DATE_RE = re.compile(r"%%date:(\d{12})%%")
#: The date an email is sent on, in its reader's zone (the heading's date): a body is
#: rendered before anyone knows when each copy goes, so this token is made a date token
#: of the sending minute (:func:`at_send`; a batch's copy: :func:`split_dates`) just
#: before the dates are filled, and from there on is a date like any other (per batch, or
#: per reader where zones disagree).
SENT_DATE = "%%date:sent%%"
#: A date token or :data:`SENT_DATE`, split in one pass (:func:`split_dates`).
_DATE_OR_SENT_RE = re.compile(r"%%date:(\d{12}|sent)%%")


@lru_cache(maxsize=65536)
def date_token(moment: datetime) -> str:
    """The zone-free placeholder for an aware datetime's date (cached: every distinct
    selection asks again for the same items' dates)."""
    if moment.tzinfo is None:
        raise ValueError("date_token needs an aware datetime")
    return f"%%date:{date_stamp(moment)}%%"


def date_stamp(moment: datetime) -> str:
    """An aware datetime's UTC minute as a date token spells it, ``YYYYMMDDHHMM``."""
    return f"{moment.astimezone(timezone.utc):%Y%m%d%H%M}"


@lru_cache(maxsize=65536)
def stamp_label(stamp: str, timezone_name: str) -> str:
    """The label a date token's stamp (``YYYYMMDDHHMM``, UTC) shows in ``timezone_name``."""
    from .select.labels import date_label, zone  # lazy: digest.select imports this module

    moment = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=timezone.utc)
    return date_label(moment, zone(timezone_name))


def at_send(text: str, now: datetime | None = None) -> str:
    """:data:`SENT_DATE` replaced by the date token of ``now`` (default: this minute)."""
    if SENT_DATE not in text:
        return text
    return text.replace(SENT_DATE, date_token((now or datetime.now(timezone.utc)).replace(second=0, microsecond=0)))


def fill_dates(text: str, timezone_name: str, now: datetime | None = None) -> str:
    """Every date token replaced by its label in ``timezone_name`` ("27 Nov 2026"); an
    unknown zone shows UTC dates (see :func:`digest.select.labels.zone`). The sent date
    is ``now``'s (default: this minute)."""
    if "%%date:" not in text:
        return text
    return _DATE_RE.sub(lambda m: stamp_label(m.group(1), timezone_name), at_send(text, now))


def has_date_tokens(text: str) -> bool:
    return SENT_DATE in text or _DATE_RE.search(text) is not None


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


def split_dates(text: str, sent: str | None = None) -> list[str]:
    """``text`` split at its date tokens (``re.split``, in C): its literal pieces at even
    positions, the tokens' stamps at odd ones; ``[text]`` when it has none. Each stamp
    replaced by its fill and the pieces joined is the text dated with no Python call per
    date (:func:`digest.deliver.dates.fill_split`). With ``sent``, the stamp of the
    minute the copy is sent, :data:`SENT_DATE` is split out as that date in the same pass
    (it was replaced in each text first: a copy of the whole body, half of a batch's
    dating)."""
    if "%%date:" not in text:
        return [text]
    if sent is None:
        return _DATE_RE.split(text)
    parts = _DATE_OR_SENT_RE.split(text)
    parts[1::2] = [sent if stamp == "sent" else stamp for stamp in parts[1::2]]
    return parts


def fill_tokens(text: str, values: dict[str, str]) -> str:
    """Replace every ``%%name%%``; a token without a value is an error, never left in.
    Date tokens are not per-recipient and stay as they are (see :func:`fill_dates`)."""

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
