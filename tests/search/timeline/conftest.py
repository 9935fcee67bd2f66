# A timeline needs a collection that really went through its flow: the payments
# tests' fixtures (the API in-process, the PSP sandbox over HTTP), re-exported by name.
import pytest

from tests.support.payment_fixtures import client, kofi, settings, world
from tests.support.payments import World
from tests.support.sandbox import live, sandbox

__all__ = ["client", "elsewhere", "kofi", "live", "sandbox", "settings", "world"]


@pytest.fixture
async def elsewhere(world: World, admin_headers: dict[str, str]) -> dict[str, str]:
    """The headers of a support key bound to another platform than the world's."""
    other = await world.client.post(
        "/v1/platforms", json={"name": "Elsewhere", "default_currency": "XOF"}, headers=admin_headers
    )
    assert other.status_code == 201, other.text
    key = await world.client.post(
        "/v1/api-keys",
        json={"name": "elsewhere support", "scopes": ["support"], "platform_id": other.json()["id"]},
        headers=admin_headers,
    )
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['secret']}"}
