"""Every reason an item can be refused is in the README, and only those."""

from __future__ import annotations

import re
from pathlib import Path

from digest.ingest.refusals import REASONS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_refusal_code():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("Why an item is still refused"):]
    section = section[: section.index("\n\n", section.index("| code |"))]
    listed = re.findall(r"^\| `([a-z-]+)` \|", section, re.M)
    assert sorted(listed) == sorted(REASONS)
