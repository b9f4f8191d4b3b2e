"""Text stored zlib-compressed: the rendered bodies, kept for months for audits.

A body's HTML is 50-70 KB of repetitive markup; zlib keeps about a ninth of it (the
edition workload's html and text: 8.6 KB a body at :data:`LEVEL`), so SQLite and PostgreSQL store
(and back up) the same small value. It is compressed where the body was rendered (a render
worker: :func:`compressed_parts`). Read back through the model or its table's columns, the
text comes back as it was written; a raw SQL reader gets the compressed bytes
(``zlib.decompress(...).decode()``).
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

#: Level 3, not zlib's default 6: on the edition workload's bodies 0.24 against 0.56 ms of a
#: render worker's CPU a body (a tenth of a body's whole cost), for 8.6 against 7.1 KB stored.
#: Levels 1-3 share zlib's fast matcher (3 is the smallest of them); any level's bytes
#: read back the same way, so bodies stored at 6 before stay readable.
LEVEL = 3


def compress_text(value: str) -> bytes:
    return zlib.compress(value.encode("utf-8"), LEVEL)


def decompress_text(value: bytes | memoryview) -> str:
    return zlib.decompress(value).decode("utf-8")


class StoredForm(NamedTuple):
    """A rendered body as it is stored: all the planning process needs of it. A render
    worker hands this back, not the body (:func:`digest.deliver.plan.bodies._render_in_worker`):
    a tenth of the bytes to pickle, send and unpickle (9 against 94 KB a body on the
    edition workload; 0.15-0.3 ms of CPU a body less between the two processes)."""

    subject: str
    preheader: str
    fingerprint: str
    html: bytes  # compressed (:func:`compress_text`)
    text: bytes

    @classmethod
    def of(cls, rendered) -> "StoredForm":
        return cls(rendered.subject, rendered.preheader, rendered.fingerprint, *compressed_parts(rendered))


def compressed_parts(rendered) -> tuple[bytes, bytes]:
    """A rendered body's html and text, compressed; computed once per object and kept on
    it (as its fingerprint is), so a body rendered in a worker process arrives compressed
    and the planning process, which stores it, does not spend a millisecond or two per body.
    A :class:`StoredForm` holds them already."""
    if isinstance(rendered, StoredForm):
        return rendered.html, rendered.text
    cached = rendered.__dict__.get("_compressed")
    if cached is None:
        cached = (compress_text(rendered.html), compress_text(rendered.text))
        object.__setattr__(rendered, "_compressed", cached)  # frozen: not a field, never compared
    return cached


class CompressedText(TypeDecorator):
    """A ``str`` column stored as zlib bytes (``NULL`` stays ``NULL``; ``bytes`` are taken
    as compressed already: :func:`compressed_parts`)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or isinstance(value, bytes):
            return value
        return compress_text(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decompress_text(value)
