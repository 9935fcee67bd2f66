from __future__ import annotations

import httpx
import pytest

from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)
from tests.tenancy.world import Sessions, TwoPlatforms, two_platforms


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions) -> TwoPlatforms:
    """Platforms A and B, B owning an object of every kind, A's callers ready."""
    return await two_platforms(client, admin_headers, sessions)
