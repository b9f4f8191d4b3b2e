"""Which zone a batch's dates are filled in.

A rendered body carries zone-free date tokens; each batch fills them in one zone
(``Batch.timezone``). Readers of one body whose zones show every one of its dates the
same (London and Lisbon, most days) get the same message, so they share batches: the
batch is filled in the first such zone seen. Readers whose dates differ (London and
Kolkata, for an item published late in the evening UTC) get batches of their own.
"""

from __future__ import annotations

from typing import Hashable

from ..content import RenderedEmail, stamp_label


class BatchZones:
    def __init__(self) -> None:
        self._stamps: dict[Hashable, tuple[str, ...]] = {}
        self._zone: dict[tuple[Hashable, str], str] = {}  # (body, reader's zone) -> batch zone
        self._by_labels: dict[tuple[Hashable, tuple[str, ...]], str] = {}  # (body, labels) -> batch zone

    def add_body(self, body_key: Hashable, rendered: RenderedEmail) -> None:
        self._stamps[body_key] = tuple(sorted(rendered.date_stamps()))

    def __call__(self, body_key: Hashable, timezone_name: str) -> str:
        """The zone to fill ``body_key``'s dates in for a reader in ``timezone_name``."""
        key = (body_key, timezone_name)
        batch_zone = self._zone.get(key)
        if batch_zone is None:
            labels = tuple(stamp_label(stamp, timezone_name) for stamp in self._stamps[body_key])
            batch_zone = self._by_labels.setdefault((body_key, labels), timezone_name)
            self._zone[key] = batch_zone
        return batch_zone
