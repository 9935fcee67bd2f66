"""The state machines are declared once (``sika.payments.states``): the live
database's CHECK constraints and open-row indexes say what they declare, and
the machines judge news the way the flows rely on."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.payments.states import (
    COLLECTION_STATES,
    PAYOUT_STATES,
    CollectionStatus,
    PayoutStatus,
    StateMachine,
    Verdict,
)

MACHINES: dict[str, StateMachine[CollectionStatus] | StateMachine[PayoutStatus]] = {
    "payments_collections": COLLECTION_STATES,
    "payments_payouts": PAYOUT_STATES,
}


def quoted(definition: str) -> list[str]:
    """The string literals of a constraint or index definition, in order."""
    return re.findall(r"'([a-z_]+)'", definition)


async def constraint(sessions: async_sessionmaker[AsyncSession], table: str, name: str) -> str:
    async with sessions() as session:
        found = await session.scalar(
            sa.text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:table AS regclass) AND conname = :name"
            ),
            {"table": table, "name": name},
        )
    assert found is not None, f"{table} has no constraint {name}"
    return str(found)


async def index_predicate(sessions: async_sessionmaker[AsyncSession], index: str) -> str:
    async with sessions() as session:
        found = await session.scalar(
            sa.text("SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = CAST(:index AS regclass)"),
            {"index": index},
        )
    assert found is not None, f"{index} is not a partial index"
    return str(found)


@pytest.mark.parametrize("table", sorted(MACHINES))
async def test_the_live_status_check_allows_exactly_the_declared_states(
    sessions: async_sessionmaker[AsyncSession], table: str
) -> None:
    machine = MACHINES[table]
    status_check = await constraint(sessions, table, f"ck_{table}_status")
    assert quoted(status_check) == [state.value for state in machine.states]


@pytest.mark.parametrize("table", sorted(MACHINES))
async def test_the_live_completion_check_names_exactly_the_final_states(
    sessions: async_sessionmaker[AsyncSession], table: str
) -> None:
    machine = MACHINES[table]
    completed = await constraint(sessions, table, f"ck_{table}_completed_iff_final")
    assert set(quoted(completed)) == {state.value for state in machine.final}


@pytest.mark.parametrize("table", sorted(MACHINES))
async def test_the_live_open_index_covers_exactly_the_open_states(
    sessions: async_sessionmaker[AsyncSession], table: str
) -> None:
    machine = MACHINES[table]
    predicate = await index_predicate(sessions, f"ix_{table}_open")
    assert quoted(predicate) == [state.value for state in machine.open]


def test_the_collection_machine() -> None:
    states = COLLECTION_STATES
    assert states.open == (CollectionStatus.initiated, CollectionStatus.action_required, CollectionStatus.processing)
    assert states.judge(CollectionStatus.initiated, CollectionStatus.action_required) is Verdict.advance
    assert states.judge(CollectionStatus.processing, CollectionStatus.action_required) is Verdict.stale
    assert states.judge(CollectionStatus.processing, None) is Verdict.settled
    assert states.judge(CollectionStatus.failed, CollectionStatus.succeeded) is Verdict.contradiction
    assert states.judge(CollectionStatus.amount_mismatch, CollectionStatus.succeeded) is Verdict.settled
    assert states.judge(CollectionStatus.amount_mismatch, CollectionStatus.failed) is Verdict.contradiction
    assert states.judge(CollectionStatus.succeeded, CollectionStatus.processing) is Verdict.settled


def test_the_payout_machine() -> None:
    states = PAYOUT_STATES
    assert states.open == (PayoutStatus.initiated, PayoutStatus.processing)
    assert states.judge(PayoutStatus.initiated, PayoutStatus.processing) is Verdict.advance
    assert states.judge(PayoutStatus.processing, PayoutStatus.reversed) is Verdict.advance
    assert states.judge(PayoutStatus.succeeded, PayoutStatus.reversed) is Verdict.advance
    assert states.judge(PayoutStatus.failed, PayoutStatus.reversed) is Verdict.contradiction
    assert states.judge(PayoutStatus.succeeded, PayoutStatus.failed) is Verdict.contradiction
    # A reversed payout's provider may still report the success that came before.
    assert states.judge(PayoutStatus.reversed, PayoutStatus.succeeded) is Verdict.settled
    assert states.judge(PayoutStatus.processing, PayoutStatus.processing) is Verdict.stale
