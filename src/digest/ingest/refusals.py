"""Every reason ingest refuses an item, by a short code.

The README's "Why an item is refused" lists each code with its meaning (a test checks the
two agree), and ``digest ingest`` prints every refusal as ``rejected 'item': reason [code]``.
A refusal costs that one item: the rest of its source is stored.
"""

from __future__ import annotations

#: code -> what it means (the README says the same, in more words).
REASONS: dict[str, str] = {
    "no-id": "no guid and no http(s) link to know the item by",
    "guid-too-long": "a guid longer than the store keeps (1,000 characters)",
    "link-too-long": "a link longer than the store keeps (2,000 characters)",
    "bad-date": "a date that no parser reads, or one out of range",
    "no-title": "no title, and no text to make one from",
    "body-too-big": "a body over 1 MB (cut, it could lose its disclosures)",
    "duplicate": "a guid already seen earlier in the same feed or folder (the first is kept)",
    "no-video-link": "a video without an http(s) link to watch it",
    "bad-file": "a Markdown file that cannot be read, or whose front matter is wrong",
    "unknown-topic": "topics named that the publication's config does not have",
    "not-stored": "the database refused the item (its own words follow)",
}


class ItemRejected(Exception):
    """One item is turned away: ``code`` is one of :data:`REASONS`, the message says more."""

    def __init__(self, code: str, message: str):
        if code not in REASONS:
            raise ValueError(f"unknown refusal code {code!r}")
        super().__init__(message)
        self.code = code
