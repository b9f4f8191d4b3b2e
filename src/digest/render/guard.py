"""No briefing card goes out without its source attribution and author disclosure.

Selection should already have left such items out; this is the last gate before the
email exists. With ``selection.strict`` the render fails naming the item; otherwise the
item is dropped from the edition and named in the log.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ..content import BriefingItem, Selection
from .errors import RenderError

log = logging.getLogger(__name__)


def missing_disclosures(item: BriefingItem) -> list[str]:
    missing = []
    if not (item.attribution and item.attribution.strip()):
        missing.append("source attribution")
    if not (item.author_disclosure and item.author_disclosure.strip()):
        missing.append("author disclosure")
    return missing


def require_disclosures(selection: Selection, *, strict: bool) -> Selection:
    def keep(item: BriefingItem) -> bool:
        missing = missing_disclosures(item)
        if not missing:
            return True
        what = f"briefing {item.id} ({item.title!r}) has no {' or '.join(missing)}"
        if strict:
            raise RenderError(f"{what}: not rendered (selection.strict = true)")
        log.warning("%s: left out of the edition", what)
        return False

    sections = tuple(replace(s, briefings=tuple(b for b in s.briefings if keep(b))) for s in selection.sections)
    recommended = tuple(b for b in selection.recommended if keep(b))
    if sections == selection.sections and recommended == selection.recommended:
        return selection
    return replace(selection, sections=sections, recommended=recommended)
