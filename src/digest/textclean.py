"""Text that XML, HTML email and every database can carry.

Feeds carry characters no email can: C0 controls (``&#x1;``, a raw ``\\x01``), C1 controls,
the noncharacters U+FFFE/U+FFFF (and the other 64), lone surrogates, NUL. MJML's parser
refuses them, PostgreSQL refuses NUL, and a reader could not see them anyway. Ingest
cleans every stored text with :func:`clean_text`, and rendering cleans again where stored
rows enter it, so a database written before this rule cannot trip a render either.
Text is normalised to NFC so the same words are the same bytes whatever the feed sent.
"""

from __future__ import annotations

import re
import unicodedata

#: C0 controls but tab, newline and carriage return; DEL and the C1 controls; lone
#: surrogates; U+FDD0..U+FDEF and the two noncharacters at the end of every plane.
_UNCARRIABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
    + "]"
)


def clean_text(value: str) -> str:
    """``value`` without the characters no email can carry, in NFC."""
    if not value:
        return value
    cleaned = _UNCARRIABLE.sub("", value)
    return cleaned if cleaned.isascii() else unicodedata.normalize("NFC", cleaned)


def clean_optional(value: str | None) -> str | None:
    return None if value is None else clean_text(value)
