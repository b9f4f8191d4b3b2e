"""A batch's copy of a rendered body, its dates filled for readers in any zones.

A rendered body carries zone-free date tokens (``%%date:YYYYMMDDHHMM%%``, the UTC
minute). A batch's readers may live in different zones, and each must see every date
in their own (the heading's date too: the date the email is sent, see
:data:`digest.date_tokens.SENT_DATE`). For each date of the body:

* every zone in the batch shows it on the same day (most dates, for most batches): the
  label is written into the batch's copy of the body, once;
* the zones disagree (news published late in the evening UTC: 26 Nov in London,
  27 Nov in Kolkata): it becomes a per-recipient token ``%%date_N%%``, whose value is
  the reader's own label, sent like the links (SendGrid substitutions; string
  replacement for SMTP and the outbox). Dates that every zone of the batch shows
  alike, date by date, share one token, so a reader's values are a few short strings
  whatever the number of items.

So one batch serves a body's readers in every zone, and a body is split into batches
only by the provider's limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import Iterable, Mapping

from ..content import RenderedEmail, date_slot, token_pattern
from ..date_tokens import date_stamp, split_dates, stamp_label


@dataclass(frozen=True)
class DatedBody:
    body: RenderedEmail  # no date token left; ``%%date_N%%`` tokens where zones disagree
    values: Mapping[str, Mapping[str, str]]  # reader's zone -> {"date_N": label}

    @cached_property
    def substitutions(self) -> Mapping[str, Mapping[str, str]]:
        """:attr:`values` keyed as SendGrid's substitutions: reader's zone -> {"%%date_N%%":
        label}, made once per dated body (a batch), not per reader."""
        return {zone: {token_pattern(name): label for name, label in named.items()}
                for zone, named in self.values.items()}

    def values_for(self, timezone_name: str) -> Mapping[str, str]:
        return self.values[timezone_name]


@lru_cache(maxsize=16384)
def _labels(stamp: str, zones: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
    """The stamp's label in each zone, and whether they are all the same (cached: an
    edition's batches ask for the same items' dates in the same sets of zones)."""
    labels = tuple(stamp_label(stamp, zone) for zone in zones)
    return labels, len(set(labels)) == 1


def dated_for_zones(body: RenderedEmail, zones: Iterable[str], now: datetime | None = None) -> DatedBody:
    """``body`` with its dates filled for readers in ``zones`` (see the module docstring);
    the heading's sent date is ``now``'s (default: this minute) in each reader's zone.

    Each text is split once at its date tokens (:func:`~digest.date_tokens.split_dates`, in C)
    and joined again with each stamp's fill: no Python callback per date, and the split
    yields the stamps too (was a ``findall`` per text, then a ``sub`` calling back once
    per date: a third more instructions per batch of the edition workload)."""
    sent = date_stamp((now or datetime.now(timezone.utc)).replace(second=0, microsecond=0))
    pieces = [split_dates(text, sent) for text in (body.subject, body.preheader, body.html, body.text)]
    zones = tuple(sorted(set(zones))) or ("UTC",)
    filled: dict[str, str] = {}  # stamp -> label, or the %%date_N%% token
    slots: dict[tuple[str, ...], str] = {}  # labels per zone -> slot name
    for stamp in sorted({stamp for parts in pieces for stamp in parts[1::2]}):
        labels, alike = _labels(stamp, zones)
        if alike:
            filled[stamp] = labels[0]
        else:
            name = slots.setdefault(labels, date_slot(len(slots) + 1))
            filled[stamp] = token_pattern(name)
    subject, preheader, html, text = (fill_split(parts, filled) for parts in pieces)
    dated = RenderedEmail(subject, preheader, html, text, tokens=body.tokens | frozenset(slots.values()))
    values = {zone: {name: labels[i] for labels, name in slots.items()} for i, zone in enumerate(zones)}
    return DatedBody(dated, values)


def fill_split(parts: list[str], filled: Mapping[str, str]) -> str:
    """The text split into ``parts`` (:func:`~digest.date_tokens.split_dates`) with each stamp
    replaced by ``filled[stamp]``."""
    if len(parts) == 1:
        return parts[0]
    parts = parts.copy()
    parts[1::2] = [filled[stamp] for stamp in parts[1::2]]
    return "".join(parts)
