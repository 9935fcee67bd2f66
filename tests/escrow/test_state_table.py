"""Issue 14's table: every state of an escrow (and of its first milestone) × every
action × every caller. The moves the table allows do what it says, with the money
they move; every other one is refused (403, 404 or 409 naming the current state)
with nothing moved, no event written, no audit row, the escrow as it was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db, invariants
from tests.escrow.conftest import Cast, act, available, create, funded
from tests.support.ledger import snapshot
from tests.support.operations import rows_beside_answers

Sessions = async_sessionmaker[AsyncSession]
Escrow = dict[str, Any]
FIRST, SECOND = 6_000, 4_000

CALLERS = ("client", "beneficiary", "other", "platform", "support")
ACTIONS: dict[str, tuple[str, Any]] = {
    "fund": ("fund", {}),
    "cancel": ("cancel", None),
    "deliver": ("milestones/1/deliver", None),
    "approve": ("milestones/1/approve", None),
    "dispute": ("milestones/1/dispute", {"reason": "not what was ordered"}),
    "resolve": ("milestones/1/resolve", {"release_minor": FIRST, "refund_minor": 0, "note": "delivered after all"}),
}
MOVES: dict[tuple[str, str], tuple[str, str]] = {
    ("awaiting_funding", "fund"): ("funded", "pending"),
    ("awaiting_funding", "cancel"): ("cancelled", "pending"),
    ("pending", "deliver"): ("funded", "delivered"),
    ("delivered", "approve"): ("funded", "released"),
    ("delivered", "dispute"): ("funded", "disputed"),
    ("disputed", "resolve"): ("funded", "released"),
}
"""(state, action): what the escrow and its milestone 1 become. Nothing else moves."""
MAY: dict[str, set[str]] = {
    "fund": {"client", "platform"},
    "cancel": {"client", "platform"},
    "deliver": {"beneficiary", "platform"},
    "approve": {"client", "platform"},
    "dispute": {"client", "platform"},
    "resolve": {"support"},
}
"""Who may take each action (in a state that allows it)."""
MILESTONE_ACTIONS = {"deliver", "approve", "dispute", "resolve"}


async def _step(client: httpx.AsyncClient, cast: Cast, escrow: Escrow, action: str) -> Escrow:
    path, body = ACTIONS[action]
    response = await act(client, escrow, path, cast.support if action == "resolve" else cast.platform, body)
    assert response.status_code == 200, response.text
    done: Escrow = response.json()
    return done


async def _through(client: httpx.AsyncClient, cast: Cast, *actions: str) -> Escrow:
    escrow = await funded(client, cast, FIRST, SECOND)
    for action in actions:
        escrow = await _step(client, cast, escrow, action)
    return escrow


async def _cancelled(client: httpx.AsyncClient, cast: Cast) -> Escrow:
    return await _step(client, cast, await create(client, cast, FIRST, SECOND), "cancel")


async def _refunded(client: httpx.AsyncClient, cast: Cast) -> Escrow:
    escrow = await _through(client, cast, "deliver", "dispute")
    body = {"release_minor": 0, "refund_minor": FIRST, "note": "never delivered"}
    response = await act(client, escrow, "milestones/1/resolve", cast.support, body)
    assert response.status_code == 200, response.text
    refunded: Escrow = response.json()
    return refunded


async def _completed(client: httpx.AsyncClient, cast: Cast) -> Escrow:
    escrow = await _through(client, cast, "deliver", "approve")
    for step in ("milestones/2/deliver", "milestones/2/approve"):
        response = await act(client, escrow, step, cast.platform)
        assert response.status_code == 200, response.text
        escrow = response.json()
    return escrow


Setup = Callable[[httpx.AsyncClient, Cast], Awaitable[Escrow]]
STATES: dict[str, tuple[Setup, str, str]] = {
    "awaiting_funding": (lambda c, k: create(c, k, FIRST, SECOND), "awaiting_funding", "pending"),
    "pending": (lambda c, k: _through(c, k), "funded", "pending"),
    "delivered": (lambda c, k: _through(c, k, "deliver"), "funded", "delivered"),
    "disputed": (lambda c, k: _through(c, k, "deliver", "dispute"), "funded", "disputed"),
    "released": (lambda c, k: _through(c, k, "deliver", "approve"), "funded", "released"),
    "refunded": (_refunded, "funded", "refunded"),
    "cancelled": (_cancelled, "cancelled", "pending"),
    "completed": (_completed, "completed", "released"),
}
"""Each state of the table: how to reach it, and the escrow's and milestone 1's status there."""


def refusal(state: str, action: str, caller: str) -> tuple[int, str]:
    """What the table says a refused (state, action, caller) answers."""
    escrow_status = STATES[state][1]
    if (action == "resolve") != (caller == "support"):
        return 403, "permission_denied"  # the route's scope, or a party token on a key-only route
    if caller == "other":
        return 403, "not_owned_by_party"
    if caller not in MAY[action]:
        return 403, "escrow_action_not_allowed"
    if action not in MILESTONE_ACTIONS or escrow_status != "funded":
        return 409, "escrow_state_conflict"
    return 409, "milestone_state_conflict"


async def _footprint(client: httpx.AsyncClient, cast: Cast, sessions: Sessions, escrow: Escrow) -> tuple[Any, ...]:
    shown = (await client.get(f"/v1/escrows/{escrow['id']}", headers=cast.platform)).json()
    return await snapshot(sessions), await rows_beside_answers(sessions), shown


def _headers(cast: Cast, caller: str) -> dict[str, str]:
    return {
        "client": cast.client.headers,
        "beneficiary": cast.beneficiary.headers,
        "other": cast.other.headers,
        "platform": cast.platform,
        "support": cast.support,
    }[caller]


async def _allowed(client: httpx.AsyncClient, cast: Cast, state: str, action: str, caller: str) -> None:
    escrow = await STATES[state][0](client, cast)
    paid_before = await available(client, cast.platform, cast.beneficiary.wallet_id)
    client_before = await available(client, cast.platform, cast.client.wallet_id)
    path, body = ACTIONS[action]
    response = await act(client, escrow, path, _headers(cast, caller), body)
    assert response.status_code == 200, f"{state} {action} by {caller}: {response.text}"
    shown = response.json()
    assert (shown["status"], shown["milestones"][0]["status"]) == MOVES[(state, action)]
    paid = await available(client, cast.platform, cast.beneficiary.wallet_id) - paid_before
    refunded = await available(client, cast.platform, cast.client.wallet_id) - client_before
    expected_paid = FIRST if MOVES[(state, action)][1] == "released" else 0
    expected_client = {"fund": -(FIRST + SECOND), "cancel": 0}.get(action, 0)
    assert (paid, refunded) == (expected_paid, expected_client), f"{state} {action} by {caller}"
    assert shown["held_minor"] == shown["funded_minor"] - shown["released_minor"] - shown["refunded_minor"]


@pytest.mark.parametrize("state", sorted(STATES))
async def test_every_action_by_every_caller(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, state: str
) -> None:
    escrow = await STATES[state][0](client, cast)
    assert (escrow["status"], escrow["milestones"][0]["status"]) == STATES[state][1:]
    for action, (path, body) in ACTIONS.items():
        for caller in CALLERS:
            if (state, action) in MOVES and caller in MAY[action]:
                await _allowed(client, cast, state, action, caller)
                continue
            before = await _footprint(client, cast, sessions, escrow)
            response = await act(client, escrow, path, _headers(cast, caller), body)
            said = (response.status_code, response.json().get("code"))
            assert said == refusal(state, action, caller), f"{state} {action} by {caller}: {response.text}"
            if said[0] == 409:
                current = STATES[state][1] if said[1] == "escrow_state_conflict" else STATES[state][2]
                assert f"is {current}" in response.json()["detail"]
            assert await _footprint(client, cast, sessions, escrow) == before, f"{state} {action} by {caller}"
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


async def test_an_unknown_milestone_or_escrow_is_404(client: httpx.AsyncClient, cast: Cast) -> None:
    escrow = await funded(client, cast, FIRST, SECOND)
    response = await act(client, escrow, "milestones/3/deliver", cast.platform)
    assert (response.status_code, response.json()["code"]) == (404, "milestone_not_found")
    missing = await client.post("/v1/escrows/esc_nothing/fund", json={}, headers=cast.platform)
    assert (missing.status_code, missing.json()["code"]) == (404, "escrow_not_found")
