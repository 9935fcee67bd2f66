"""One rule for wallet money: a collection's credit and a reversed payout's
give-back reach the wallet through the wallets service, never straight onto
its account, and write the very ledger rows they always wrote (derived id,
accounts, code, metadata)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import sika.payments
from tests.support.factories import PartyWallet
from tests.support.payments import World, assert_ledger_clean, collection_body, deliver, mobile_money, payout_body
from tests.support.tasks import nothing_left_running  # noqa: F401 (closes the grouped path's connections)

AMOUNT = 5_000
FUNDS = 10_000
LEDGER_WRITES = {
    "create_transfer",
    "create_journal_entry",
    "submit_transfer",
    "post_pending",
    "void_pending",
    "expire_pending",
    "expire_pending_transfers",
}
"""The ledger service's functions that move money."""


async def wallet_ledger(world: World, who: PartyWallet) -> list[tuple[Any, ...]]:
    """Every transfer touching ``who``'s wallet account, oldest first: (id,
    kind, debit account, credit account, amount, currency, code, metadata),
    with the wallet's own account named ``wallet``."""
    async with world.sessions() as session:
        account = await session.scalar(sa.text("SELECT account_id FROM wallets WHERE id = :id"), {"id": who.wallet_id})
        rows = await session.execute(
            sa.text(
                "SELECT id, kind, debit_account_id, credit_account_id, amount_minor, currency, code, metadata"
                " FROM ledger_transfers WHERE :account IN (debit_account_id, credit_account_id) ORDER BY seq"
            ),
            {"account": account},
        )
        named = {account: "wallet"}
        return [
            (id_, kind, named.get(debit, debit), named.get(credit, credit), amount, currency, code, metadata)
            for id_, kind, debit, credit, amount, currency, code, metadata in rows
        ]


async def test_a_collections_credit_is_one_transfer_from_clearing_to_the_wallet_under_its_derived_id(
    world: World, kofi: PartyWallet
) -> None:
    started = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn")))
    assert started.status_code == 201, started.text
    collection_id = started.json()["id"]
    await world.deliver(1)
    await world.run_jobs()
    shown = await world.shown("collections", collection_id)
    assert (shown["status"], shown["credit_transfer_id"]) == ("succeeded", f"{collection_id}.credit")
    provider = shown["provider"]

    assert await wallet_ledger(world, kofi) == [
        (
            f"{collection_id}.credit",
            "posted",
            f"clearing.{provider}.XOF",
            "wallet",
            AMOUNT,
            "XOF",
            "collection.succeeded",
            {"collection_id": collection_id, "provider": provider},
        )
    ]
    assert await world.wallet(kofi) == (AMOUNT, 0)
    await assert_ledger_clean(world.sessions)


async def test_a_reversed_payouts_money_comes_back_as_one_transfer_under_its_derived_id(
    world: World, kofi: PartyWallet
) -> None:
    await world.top_up(kofi, FUNDS)
    # The sandbox confirms this number's payout, then reverses it.
    response = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT, phone="+2250700000063"))
    assert response.status_code == 201, response.text
    payout_id = response.json()["id"]
    reversed_, success = await world.sandbox.receiver.wait_for(2)
    for received in (success, reversed_):
        assert (await deliver(world.client, received)).status_code == 200
        await world.run_jobs()
    shown = await world.shown("payouts", payout_id)
    assert (shown["status"], shown["reversal_transfer_id"]) == ("reversed", f"{payout_id}.reversal")
    provider = shown["provider"]

    give_back = (await wallet_ledger(world, kofi))[-1]
    assert give_back == (
        f"{payout_id}.reversal",
        "posted",
        f"clearing.{provider}.XOF",
        "wallet",
        AMOUNT,
        "XOF",
        "payout.reversed",
        {"payout_id": payout_id, "provider": provider},
    )
    assert await world.wallet(kofi) == (FUNDS, 0)
    await assert_ledger_clean(world.sessions)


def test_payments_never_writes_to_the_ledger_itself() -> None:
    """Money in or out of a wallet goes through the wallets service; the
    payments code calls no ledger function that moves money."""
    package = Path(sika.payments.__file__).parent
    calls = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in LEDGER_WRITES:
                calls.append(f"{path.relative_to(package)}:{node.lineno} {node.attr}")
    assert calls == []
