"""Ten ``pay`` calls on one instalment at once, each on its own connection to a running
API (two processes) in front of the sandbox over HTTP: one starts a payment and calls the
provider, the nine others are refused naming the payment in flight; one collection, one
charge at the provider, and ``sika check`` clean."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sika.auth.scopes import Scope
from sika.core import db
from tests.conftest import make_key
from tests.instalments.conftest import today
from tests.support import database
from tests.support.payments import SUCCESS_PHONE
from tests.support.stack import Stack, live_stack

CALLS = 10
AMOUNT = 4_000


@pytest.fixture
def race_database(pg_url: str, template_db: str) -> Iterator[str]:
    with database.fresh_database(pg_url, template_db) as url:
        yield url


@pytest.fixture
def stack(race_database: str) -> Iterator[Stack]:
    with live_stack(race_database) as running:
        running.start_api()
        yield running


async def _made(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _pay(stack: Stack, headers: dict[str, str], instalment_id: str, n: int) -> httpx.Response:
    """One caller, its own client and connection."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        return await client.post(
            f"/v1/instalments/{instalment_id}/pay",
            json={"method": {"type": "mobile_money", "operator": "mtn", "phone": SUCCESS_PHONE}},
            headers={**headers, "Idempotency-Key": f"race-{n}"},
        )


async def test_ten_parallel_pays_make_one_payment_and_one_provider_call(stack: Stack, race_database: str) -> None:
    engine = db.make_engine(race_database, pool_size=1, max_overflow=1)
    sessions = db.make_sessionmaker(engine)
    headers = {"Authorization": f"Bearer {await make_key(sessions, Scope.platform)}"}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        payer = await _made(
            client,
            "/v1/parties",
            {"display_name": "Awa Payer", "type": "individual", "country": "CI", "email": "awa@example.ci"},
            headers,
        )
        await _made(client, f"/v1/parties/{payer['id']}/wallets", {"currency": "XOF"}, headers)
        plan = {
            "payer_party_id": payer["id"],
            "currency": "XOF",
            "total_minor": AMOUNT,
            "instalments": [{"due_on": today().isoformat(), "amount_minor": AMOUNT}],
        }
        made = await _made(client, "/v1/instalment-plans", plan, headers)
    instalment = made["instalments"][0]["id"]

    answers = await asyncio.gather(*(_pay(stack, headers, instalment, n) for n in range(CALLS)))
    said = Counter((answer.status_code, answer.json().get("code")) for answer in answers)
    assert said == {(200, None): 1, (409, "instalment_payment_in_flight"): CALLS - 1}, said
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["payment_id"] == winner["payment"]["id"]
    async with sessions() as session:
        collections = await session.scalar(sa.text("SELECT count(*) FROM payments_collections"))
        payments = await session.scalar(sa.text("SELECT count(*) FROM instalment_payments"))
    assert (collections, payments) == (1, 1)
    with stack.sandbox_admin() as admin:
        charges = admin.get("/payments").json()
    assert len(charges) == 1, charges
    await engine.dispose()
    checked = stack.sika_check()
    assert checked.returncode == 0, checked.stdout + checked.stderr
