from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)
from tests.tenancy.world import Sessions, TwoPlatforms, two_platforms

PARTY_EMAIL = "Awa.Kone@example.ci"
PARTY_PHONE = "+2250700987654"
PROVIDER_REFERENCE = "PSK_ref_84hd72ks"
IDEMPOTENCY_KEY = "order-2291-attempt-1"


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions) -> TwoPlatforms:
    """Platforms A and B (tests/tenancy/world.py); B's party has an email and a phone,
    and B's collection has the provider's reference and the caller's Idempotency-Key."""
    made = await two_platforms(client, admin_headers, sessions)
    patched = await client.patch(
        f"/v1/parties/{made.b.ids['party_id']}",
        json={"email": PARTY_EMAIL, "phone": PARTY_PHONE},
        headers=made.b.platform,
    )
    assert patched.status_code == 200, patched.text
    async with sessions.begin() as session:
        await session.execute(
            sa.text(
                "UPDATE payments_collections SET provider = 'paystack', provider_reference = :reference, "
                "idempotency_key = :key WHERE id = :id"
            ),
            {"reference": PROVIDER_REFERENCE, "key": IDEMPOTENCY_KEY, "id": made.b.ids["collection_id"]},
        )
    return made
