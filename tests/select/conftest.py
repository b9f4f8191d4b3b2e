from __future__ import annotations

import pytest
from select_seeding import Seeder


@pytest.fixture
def session(runtime):
    with runtime.session() as s:
        yield s


@pytest.fixture
def seed(session) -> Seeder:
    return Seeder(session)
