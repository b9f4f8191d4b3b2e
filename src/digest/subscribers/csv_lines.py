"""A subscriber CSV read one physical line at a time, each bad line a reason of its own.

Lists come from spreadsheets and other services, and one bad line must cost that line
only. So each line is decoded on its own (invalid UTF-8 names the byte and where it is),
checked for NUL and other characters no email or database can carry, and split on its
own: no column of ours holds a line break, so a quote left open cannot swallow the lines
after it. A line with fewer or more cells than the header names is an error, never filled
with defaults.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from typing import IO, Iterator

from ..textclean import clean_text

_BOM = b"\xef\xbb\xbf"


class LineError(ValueError):
    """What is wrong with one line, in words an operator can act on."""


@dataclass(frozen=True)
class CsvLine:
    number: int  # 1-based, as a text editor counts
    cells: tuple[str, ...] = ()
    error: str | None = None


def read_lines(stream: IO[bytes]) -> Iterator[CsvLine]:
    """Every non-blank line of ``stream``: its cells, or why it cannot be read."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        try:
            yield CsvLine(number, split_line(raw))
        except LineError as exc:
            yield CsvLine(number, error=str(exc))


def split_line(raw: bytes) -> tuple[str, ...]:
    """One line's cells (stripped); raises :class:`LineError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line)") from None
    position = text.find("\x00")
    if position >= 0:
        raise LineError(f"contains a NUL byte (at character {position + 1})")
    if clean_text(text) != unicodedata.normalize("NFC", text):
        position, char = next((i, c) for i, c in enumerate(text) if c not in "\t\r" and not clean_text(c))
        raise LineError(f"contains the control character or noncharacter U+{ord(char):04X} "
                        f"(at character {position + 1})")
    try:
        cells = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        reason = "a quoted cell is not closed" if "end of data" in str(exc) else str(exc)
        raise LineError(f"not valid CSV: {reason}") from None
    return tuple(unicodedata.normalize("NFC", cell.strip()) for cell in cells)


def check_cell_count(cells: tuple[str, ...], columns: tuple[str, ...]) -> None:
    if len(cells) < len(columns):
        missing = ", ".join(columns[len(cells):])
        raise LineError(f"too few cells: {len(cells)} for the header's {len(columns)} columns (no {missing})")
    if len(cells) > len(columns):
        raise LineError(f"too many cells: {len(cells)} for the header's {len(columns)} columns")
