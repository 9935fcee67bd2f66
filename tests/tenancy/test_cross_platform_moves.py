"""Money never crosses platforms through a route that takes two objects: a
capture whose hold and destination wallet are on different platforms, a raw
ledger transfer or journal entry between two platforms' accounts, a collection
or payout of one platform's party into or out of the other's wallet. Each is a 404
(the other side's object does not exist for the caller), in either direction,
and nothing moves on either side."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.factories import party_with_wallet
from tests.support.ledger import snapshot
from tests.support.operations import row_counts
from tests.support.payments import SUCCESS_PHONE, mobile_money
from tests.tenancy.footprint import MAY_GROW, marks, owned_rows, since
from tests.tenancy.world import Sessions, TwoPlatforms

MOVERS = ("A's platform key", "A's admin key")
"""A's keys that may move money at all (the support key is refused by scope first)."""


def _transfer(debit: str, credit: str) -> dict[str, Any]:
    return {"debit_account_id": debit, "credit_account_id": credit, "amount_minor": 100, "currency": "XOF", "code": "x"}


def _payments(a: dict[str, str], b: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """A collection or payout naming one platform's party and the other's wallet, either way round."""
    collection = {"amount_minor": 100, "currency": "XOF", "method": mobile_money("mtn")}
    payout = {
        "amount_minor": 100,
        "currency": "XOF",
        "destination": {"operator": "mtn", "phone": SUCCESS_PHONE},
        "recipient_name": "Kofi",
    }
    return [
        (path, {**body, "party_id": party["party_id"], "wallet_id": wallet["wallet_id"]})
        for path, body in (("/v1/collections", collection), ("/v1/payouts", payout))
        for party, wallet in ((a, b), (b, a))
    ]


def _attempts(world: TwoPlatforms) -> list[tuple[str, dict[str, Any]]]:
    a, b = world.a.ids, world.b.ids
    return [
        *_payments(a, b),
        (f"/v1/holds/{b['hold_id']}/capture", {"destination_wallet_id": a["wallet_id"]}),
        (f"/v1/holds/{a['hold_id']}/capture", {"destination_wallet_id": b["wallet_id"]}),
        (f"/v1/holds/{a['hold_id']}/capture", {"destination_wallet_id": world.b.more["second_wallet"]}),
        ("/v1/ledger/transfers", _transfer(a["account_id"], b["account_id"])),
        ("/v1/ledger/transfers", _transfer(b["account_id"], a["account_id"])),
        ("/v1/ledger/transfers", {**_transfer(a["account_id"], b["account_id"]), "pending": True}),
        # B's wallet's own ledger accounts, and the installation's funding account: no platform's to move.
        ("/v1/ledger/transfers", _transfer(world.b.more["wallet_account"], a["account_id"])),
        ("/v1/ledger/transfers", _transfer(a["account_id"], world.b.more["wallet_holds_account"])),
        ("/v1/ledger/transfers", _transfer(world.system["funding_account"], a["account_id"])),
        ("/v1/ledger/transfers", _transfer(a["account_id"], world.system["funding_account"])),
        ("/v1/ledger/journal-entries", {"transfers": [_transfer(a["account_id"], b["account_id"])]}),
        (
            "/v1/ledger/journal-entries",
            {
                "transfers": [
                    _transfer(a["account_id"], world.a.more["target_account"]),
                    _transfer(b["account_id"], a["account_id"]),
                ]
            },
        ),
    ]


@pytest.mark.parametrize("caller", MOVERS)
async def test_nothing_moves_between_platforms(
    client: httpx.AsyncClient, sessions: Sessions, world: TwoPlatforms, caller: str
) -> None:
    ledger_before, rows_before, mark = await snapshot(sessions), await row_counts(sessions), await marks(sessions)
    owned_before = [await owned_rows(sessions, side.platform_id) for side in (world.a, world.b)]

    for path, body in _attempts(world):
        headers = {**world.callers[caller], "Idempotency-Key": str(uuid.uuid4())}
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 404, f"{caller}: POST {path} {body}: {response.text}"
        assert response.json()["code"].endswith("not_found"), response.text

    assert await snapshot(sessions) == ledger_before
    assert [await owned_rows(sessions, side.platform_id) for side in (world.a, world.b)] == owned_before
    rows_after = await row_counts(sessions)
    assert {t: n for t, n in rows_after.items() if t not in MAY_GROW} == {
        t: n for t, n in rows_before.items() if t not in MAY_GROW
    }
    # A refusal audits nothing; what may be stored is the answer to A's own key.
    written = await since(sessions, mark, world.a.platform_id)
    assert (written.audited, written.stored_for_others) == ([], 0)


async def test_a_capture_within_a_platform_still_moves_money(client: httpx.AsyncClient, world: TwoPlatforms) -> None:
    """The refusals above are about the other platform, not captures or transfers as such."""
    a = world.a
    seller = await party_with_wallet(client, a.platform, display_name="A seller")
    response = await client.post(
        f"/v1/holds/{a.ids['hold_id']}/capture",
        json={"destination_wallet_id": seller.wallet_id},
        headers={**a.platform, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text
    assert (await client.get(f"/v1/wallets/{seller.wallet_id}", headers=a.platform)).json()["balance_minor"] == 1_000
    response = await client.post(
        "/v1/ledger/transfers",
        json=_transfer(a.ids["account_id"], a.more["target_account"]),
        headers={**a.platform, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text


async def test_a_transfer_id_another_platform_chose_gives_away_nothing_of_its_transfer(
    client: httpx.AsyncClient, sessions: Sessions, world: TwoPlatforms
) -> None:
    """Transfer ids a caller chooses are one namespace for the installation, so A
    reusing an id B chose cannot succeed (that it is taken still shows: a known limit
    of caller-chosen ids, reported with issue 10); but the refusal shows none of B's
    transfer and moves nothing."""
    a, b = world.a, world.b
    chosen = _transfer(b.ids["account_id"], b.more["target_account"])
    made = await client.post(
        "/v1/ledger/transfers",
        json={**chosen, "id": "order-1", "amount_minor": 4_321},
        headers={**b.platform, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert made.status_code == 201, made.text
    ledger_before = await snapshot(sessions)

    response = await client.post(
        "/v1/ledger/transfers",
        json={**_transfer(a.ids["account_id"], a.more["target_account"]), "id": "order-1"},
        headers={**a.platform, "Idempotency-Key": str(uuid.uuid4())},
    )

    assert not response.is_success, response.text
    assert not any(value in response.text for value in (*world.foreign().values(), "4321")), response.text
    assert await snapshot(sessions) == ledger_before
    assert (await client.get("/v1/ledger/transfers/order-1", headers=a.platform)).status_code == 404
