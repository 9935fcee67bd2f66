"""Issue 16's table: every state of a mandate × every action × every caller. The
moves the table allows do what they say; every other one is refused (403, or 409
naming the rule) with nothing moved, no event written, no audit row, the mandate as
it was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from sika.core import clock, db, invariants
from sika.core.context import system_actor
from sika.mandates import service as mandates_service
from tests.mandates.conftest import Cast, Sessions, act, create
from tests.support.factories import Owner, owner
from tests.support.ledger import snapshot
from tests.support.operations import rows_beside_answers

CALLERS = ("sender", "beneficiary", "other", "platform", "support")
ACTIONS = ("top-ups", "revoke", "purchases", "payees", "spends")
MAY: dict[str, set[str]] = {
    "top-ups": {"sender", "platform"},
    "revoke": {"sender", "platform"},
    "payees": {"sender", "platform"},
    "purchases": {"beneficiary", "platform"},
    "spends": {"beneficiary", "platform"},
}
"""Who may take each action on an active mandate."""
PAYS = {"purchases", "spends"}


@dataclass(frozen=True)
class Scene:
    mandate: dict[str, Any]
    payee_id: str
    beneficiary: Owner


async def _active(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Scene:
    """An active mandate of 5,000 for a beneficiary of its own, with a payee: each allowed
    move gets a fresh one (one active mandate per sender and beneficiary)."""
    beneficiary = await owner(client, cast.platform, display_name="Table child")
    mandate = await create(client, cast, 5_000, beneficiary_party_id=beneficiary.party_id)
    body = {"party_id": cast.payee.party_id, "total_limit_minor": 5_000}
    added = await act(client, mandate, "payees", cast.platform, body)
    assert added.status_code == 201, added.text
    return Scene(mandate=added.json(), payee_id=added.json()["payees"][0]["id"], beneficiary=beneficiary)


async def _consumed(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Scene:
    scene = await _active(client, cast, sessions)
    spent = await act(client, scene.mandate, "spends", cast.platform, _body("spends", scene, 5_000))
    assert spent.status_code == 201, spent.text
    return scene


async def _revoked(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Scene:
    scene = await _active(client, cast, sessions)
    assert (await act(client, scene.mandate, "revoke", cast.platform)).status_code == 200
    return scene


async def _expired(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Scene:
    scene = await _active(client, cast, sessions)
    async with db.transaction(sessions) as session:
        await mandates_service.expire_due(session, now=clock.now() + timedelta(days=8), actor=system_actor("table"))
    return scene


STATES: dict[str, Callable[[httpx.AsyncClient, Cast, Sessions], Awaitable[Scene]]] = {
    "active": _active,
    "consumed": _consumed,
    "revoked": _revoked,
    "expired": _expired,
}


def _body(action: str, scene: Scene, amount: int = 1_000) -> dict[str, Any] | None:
    return {
        "top-ups": {"amount_minor": amount},
        "revoke": None,
        "purchases": {"merchant_id": "", "amount_minor": amount, "reference": "table"},
        "payees": {"party_id": "", "daily_limit_minor": amount},
        "spends": {"payee_id": scene.payee_id, "amount_minor": amount, "reference": "table"},
    }[action]


def _call(action: str, scene: Scene, cast: Cast) -> dict[str, Any] | None:
    body = _body(action, scene)
    if action == "purchases" and body is not None:
        body["merchant_id"] = cast.school["id"]
    if action == "payees" and body is not None:
        body["party_id"] = cast.other.party_id
    return body


def _headers(cast: Cast, scene: Scene, caller: str) -> dict[str, str]:
    return {
        "sender": cast.sender.headers,
        "beneficiary": scene.beneficiary.headers,
        "other": cast.other.headers,
        "platform": cast.platform,
        "support": cast.support,
    }[caller]


def refusal(state: str, action: str, caller: str) -> tuple[int, str]:
    """What the table says a refused (state, action, caller) answers."""
    if caller == "support":
        return 403, "permission_denied"  # the routes take platform keys and party tokens
    if caller == "other":
        return 403, "not_owned_by_party"
    if caller not in MAY[action]:
        return 403, "mandate_action_not_allowed"
    if state == "consumed" and action in PAYS:
        return 409, "mandate_insufficient"
    return 409, "mandate_not_active"


async def _footprint(client: httpx.AsyncClient, cast: Cast, sessions: Sessions, scene: Scene) -> tuple[Any, ...]:
    shown = (await client.get(f"/v1/mandates/{scene.mandate['id']}", headers=cast.platform)).json()
    return await snapshot(sessions), await rows_beside_answers(sessions), shown


@pytest.mark.parametrize("state", sorted(STATES))
async def test_every_action_by_every_caller(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, state: str
) -> None:
    scene = await STATES[state](client, cast, sessions)
    assert scene.mandate["status"] == "active"
    assert (await client.get(f"/v1/mandates/{scene.mandate['id']}", headers=cast.platform)).json()["status"] == state
    for action in ACTIONS:
        for caller in CALLERS:
            if state == "active" and caller in MAY[action]:
                fresh = await _active(client, cast, sessions)
                done = await act(
                    client, fresh.mandate, action, _headers(cast, fresh, caller), _call(action, fresh, cast)
                )
                assert done.status_code in (200, 201), f"{action} by {caller}: {done.text}"
                continue
            before = await _footprint(client, cast, sessions, scene)
            response = await act(
                client, scene.mandate, action, _headers(cast, scene, caller), _call(action, scene, cast)
            )
            said = (response.status_code, response.json().get("code"))
            assert said == refusal(state, action, caller), f"{state} {action} by {caller}: {response.text}"
            assert await _footprint(client, cast, sessions, scene) == before, f"{state} {action} by {caller}"
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]
