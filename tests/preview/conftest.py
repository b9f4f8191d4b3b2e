from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The content seeder is shared with the selection tests (tests/select has no __init__.py:
# a package named "select" would shadow the standard library's).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "select"))

from select_seeding import NOW, Seeder  # noqa: E402


@pytest.fixture
def seeded(runtime):
    """Briefings in two topics, a video, and a gold-only subscriber; committed."""
    with runtime.session() as session:
        seed = Seeder(session)
        seed.briefing(title="Lithium news of the day", topics=("lithium",), hours_ago=2)
        seed.briefing(title="Gold holds its ground", topics=("gold",), hours_ago=3)
        seed.video(title="Lithium explained", topics=("lithium",), hours_ago=4)
        seed.subscriber("Gold.Bug@example.com", topics=("gold",), timezone="America/Toronto")
    return runtime


@pytest.fixture
def now():
    return NOW
