"""The Idempotency-Key as an integrator meets it on holds (as Stripe keeps keys): a
request refused before it ran keeps nothing under its key, so the corrected retry
runs; once the route ran, its answer, a refusal included, is what the key replays;
the same JSON with its members in another order is the same request."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.idempotency.models import IdempotencyKey
from tests.support.factories import Owner
from tests.support.ledger import snapshot
from tests.wallets.conftest import place_hold, wallet_state

Sessions = async_sessionmaker[AsyncSession]


async def keys_stored(sessions: Sessions, key: str) -> int:
    async with sessions() as session:
        statement = sa.select(sa.func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == key)
        return int(await session.scalar(statement) or 0)


async def test_a_corrected_retry_after_a_validation_error_runs(
    client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
) -> None:
    headers = {**platform_headers, "Idempotency-Key": "hold-without-reason"}
    before = await snapshot(sessions)
    refused = await client.post(f"/v1/wallets/{funded.wallet_id}/holds", json={"amount_minor": 700}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["code"] != "idempotency_key_reused"
    assert await keys_stored(sessions, "hold-without-reason") == 0
    assert await snapshot(sessions) == before

    corrected = await place_hold(client, headers, funded.wallet_id, 700)

    assert corrected.status_code == 201
    assert "idempotent-replayed" not in corrected.headers
    assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 700, 9300)
    again = await place_hold(client, headers, funded.wallet_id, 700)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == corrected.json()


async def test_a_service_validation_error_keeps_nothing_either(
    client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
) -> None:
    hold = (await place_hold(client, platform_headers, funded.wallet_id, 1000)).json()
    headers = {**platform_headers, "Idempotency-Key": "capture-too-much"}
    before = await snapshot(sessions)
    refused = await client.post(f"/v1/holds/{hold['id']}/capture", json={"amount_minor": 1001}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "amount_exceeds_pending"
    assert await keys_stored(sessions, "capture-too-much") == 0
    assert await snapshot(sessions) == before

    corrected = await client.post(f"/v1/holds/{hold['id']}/capture", json={"amount_minor": 1000}, headers=headers)

    assert corrected.status_code == 200
    assert "idempotent-replayed" not in corrected.headers


async def test_the_same_json_in_another_order_replays(
    client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
) -> None:
    headers = {**platform_headers, "Idempotency-Key": "reordered", "Content-Type": "application/json"}
    url = f"/v1/wallets/{funded.wallet_id}/holds"
    first = await client.post(url, content=b'{"amount_minor": 1500, "reason": "order"}', headers=headers)
    before = await snapshot(sessions)

    again = await client.post(url, content=b'{\n  "reason":"order",\n  "amount_minor":1500\n}', headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await snapshot(sessions) == before
    assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 1500, 8500)
    other = await client.post(url, content=b'{"reason":"order","amount_minor":1500.0}', headers=headers)
    assert other.json()["code"] == "idempotency_key_reused"  # 1500.0 is not 1500: numbers stay as written


async def test_a_domain_refusal_is_replayed(
    client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
) -> None:
    headers = {**platform_headers, "Idempotency-Key": "hold-too-much", "Content-Type": "application/json"}
    before = await snapshot(sessions)
    refused = await place_hold(client, headers, funded.wallet_id, 10001)
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_funds"
    assert await keys_stored(sessions, "hold-too-much") == 1

    # The route ran and refused: the retry gets that refusal, however its JSON is laid out.
    again = await client.post(
        f"/v1/wallets/{funded.wallet_id}/holds", content=b'{"reason": "order", "amount_minor": 10001}', headers=headers
    )

    assert again.status_code == 409
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == refused.json()
    assert await snapshot(sessions) == before
    assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 0, 10000)
