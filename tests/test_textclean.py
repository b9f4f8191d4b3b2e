"""The one rule for text no email can carry (issue 14, point 1)."""

import pytest

from digest.textclean import clean_text

# Each case worked out by hand: the character and what must remain around it.
CASES = [
    ("Gold\x01 rallies", "Gold rallies"),
    ("Gold\x00 rallies", "Gold rallies"),
    ("Gold\ufffe rallies\uffff", "Gold rallies"),
    ("Gold\U0001fffe rallies", "Gold rallies"),
    ("Gold\ufdd0 rallies", "Gold rallies"),
    ("Gold\udc80 rallies", "Gold rallies"),  # a lone surrogate, as surrogateescape leaves them
    ("Gold\x85\x9f rallies", "Gold rallies"),  # C1 controls
    ("Gold\x7f rallies", "Gold rallies"),
    ("tab\tnew\nline\r", "tab\tnew\nline\r"),
    ("Cafe\u0301", "Caf\u00e9"),  # NFC
    ("Zürich · 金 · \U0001f4c8", "Zürich · 金 · \U0001f4c8"),
    ("", ""),
]


@pytest.mark.parametrize("raw, expected", CASES)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected
