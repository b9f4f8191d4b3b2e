"""Text stored zlib-compressed: the rendered bodies, kept for months for audits.

A body's HTML is 50-70 KB of repetitive markup; zlib keeps about a ninth of it (the
sample edition's: 51 KB -> 5.5 KB, its text 9.3 -> 2.1 KB), in the process that writes it, so SQLite and PostgreSQL store (and back up) the same small
value. Read back through the model or its table's columns, the text comes back as it was
written; a raw SQL reader gets the compressed bytes (``zlib.decompress(...).decode()``).
"""

from __future__ import annotations

import zlib

from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

#: zlib's default trade-off: a 70 KB body in about a millisecond, once per distinct body.
LEVEL = 6


def compress_text(value: str) -> bytes:
    return zlib.compress(value.encode("utf-8"), LEVEL)


def decompress_text(value: bytes | memoryview) -> str:
    return zlib.decompress(value).decode("utf-8")


class CompressedText(TypeDecorator):
    """A ``str`` column stored as zlib bytes (``NULL`` stays ``NULL``)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else compress_text(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decompress_text(value)
