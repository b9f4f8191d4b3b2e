"""Dates left as placeholders in a rendered body, ``%%date:YYYYMMDDHHMM%%`` (the UTC
minute), filled in each reader's zone when a copy is sent, previewed or archived: a body
is rendered once for readers in every zone (:mod:`digest.deliver.dates` for a batch's
copy). The heading's date is :data:`SENT_DATE`, the minute the copy goes.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache

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
    from .select.labels import date_label, zone  # lazy: digest.select imports digest.content, which imports this module

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
