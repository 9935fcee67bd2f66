from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)


@dataclass(frozen=True)
class Books:
    """A world account (no flags), two overdraft-protected wallets and one
    debit-normal account, in XOF; ``alice`` starts with 1,000."""

    world: str
    alice: str
    bob: str
    receivable: str


@pytest.fixture
async def books(sessions: async_sessionmaker[AsyncSession]) -> Books:
    now = clock.now()
    async with db.transaction(sessions) as session:
        world = await ledger_service.create_account(
            session, currency="XOF", kind="world", platform_id=None, now=now, actor=TEST_ACTOR
        )
        alice, bob = [
            await ledger_service.create_account(
                session,
                currency="XOF",
                kind="wallet",
                owner_type="party",
                owner_id=owner,
                debits_must_not_exceed_credits=True,
                platform_id=None,
                now=now,
                actor=TEST_ACTOR,
            )
            for owner in ("pty_alice", "pty_bob")
        ]
        receivable = await ledger_service.create_account(
            session,
            currency="XOF",
            kind="receivable",
            credits_must_not_exceed_debits=True,
            platform_id=None,
            now=now,
            actor=TEST_ACTOR,
        )
        await ledger_service.create_transfer(
            session,
            debit_account_id=world.id,
            credit_account_id=alice.id,
            amount_minor=1000,
            currency="XOF",
            code="top_up",
            now=now,
            actor=TEST_ACTOR,
        )
    return Books(world=world.id, alice=alice.id, bob=bob.id, receivable=receivable.id)


async def alice_pays_bob(session: AsyncSession, books: Books, amount_minor: int) -> ledger_service.TransferRecord:
    """A posted XOF transfer from alice to bob in ``session``'s transaction."""
    return await ledger_service.create_transfer(
        session,
        debit_account_id=books.alice,
        credit_account_id=books.bob,
        amount_minor=amount_minor,
        currency="XOF",
        code="test",
        now=clock.now(),
        actor=TEST_ACTOR,
    )
