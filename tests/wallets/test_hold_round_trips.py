"""A hold and a capture each cost a fixed, short list of statements on the
request's connection, in one transaction: the Idempotency-Key's claim, the
work, the stored answer, one commit (issue 20: holds as cheap as transfers)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from sika.core import db
from tests.ledger.test_one_transaction import _until_listening
from tests.support.factories import Owner
from tests.wallets.conftest import place_hold, wallet_state


async def test_a_hold_and_its_capture_send_few_statements(
    app: FastAPI,
    client: httpx.AsyncClient,
    platform_headers: dict[str, str],
    engine: AsyncEngine,
    funded: Owner,
    merchant: Owner,
) -> None:
    capture = {"destination_wallet_id": merchant.wallet_id, "platform_fee_minor": 10}
    async with app.router.lifespan_context(app):
        await _until_listening(app)
        # A first hold and capture fill the per-process memories (the key, the fee account).
        first = await place_hold(client, platform_headers, funded.wallet_id, 100)
        assert first.status_code == 201, first.text
        captured = await client.post(f"/v1/holds/{first.json()['id']}/capture", json=capture, headers=platform_headers)
        assert captured.status_code == 200, captured.text

        with db.statements_sent(engine) as placing:
            placed = await place_hold(client, platform_headers, funded.wallet_id, 300)
        assert placed.status_code == 201, placed.text
        with db.statements_sent(engine) as capturing:
            captured = await client.post(
                f"/v1/holds/{placed.json()['id']}/capture", json=capture, headers=platform_headers
            )
        assert captured.status_code == 200, captured.text

    # The claim; the wallet with its party share-locked and its lapsed holds; the
    # ledger function; the hold's owner record; its audit row; the wallet's money
    # for the answer; the stored answer; one commit.
    assert placing == [
        "INSERT INTO idempotency_keys",
        "SELECT wallets.seq, wallets.id,",
        "SELECT r_error, r_detail,",
        "INSERT INTO wallet_holds",
        "INSERT INTO audit_events",
        "SELECT ledger_accounts.id, ledger_accounts.seq,",
        "UPDATE idempotency_keys SET",
        "COMMIT",
    ], placing
    # The claim; the hold with its record, wallets, resolution and party in one
    # read; the P2P rules (sika.p2p: the platform; the sender's lock with both
    # parties' standing; the movement with the sender's usage); the post and its
    # payments in one call of the ledger function; the audit row; the wallet's
    # money; the stored answer.
    assert capturing == [
        "INSERT INTO idempotency_keys",
        "SELECT ledger_transfers.id, ledger_transfers.seq,",
        "SELECT platforms.seq, platforms.id,",
        "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0)),",
        "WITH usage AS",
        # The audit row before the ledger call, which holds the platform's fee account until commit.
        "INSERT INTO audit_events",
        "SELECT r_error, r_detail,",
        "SELECT ledger_accounts.id, ledger_accounts.seq,",
        "UPDATE idempotency_keys SET",
        "COMMIT",
    ], capturing
    hold = captured.json()
    assert (hold["status"], hold["captured_minor"], hold["destination_minor"], hold["platform_fee_minor"]) == (
        "captured",
        300,
        290,
        10,
    )
    assert hold["wallet"]["balance_minor"] == 10000 - 100 - 300
    assert (await wallet_state(client, platform_headers, merchant.wallet_id))[0] == 90 + 290
