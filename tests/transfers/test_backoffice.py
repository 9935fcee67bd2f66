"""The back-office surface: who may change allowlists and certifications,
read alerts and the audit log, suspend a party. A walk of the app's routes
holds every back-office route to the table below (a new one must join it),
and each credential is tried against each route; then the allowlist and the
certification themselves: self-service, history, events and audit rows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.routes import Route, api_routes
from tests.transfers.conftest import Cast, Sessions, Still, scalar, set_settings

BACK_OFFICE: dict[tuple[str, str], tuple[frozenset[str], bool]] = {
    ("POST", "/v1/parties/{party_id}/certification"): (frozenset({"support"}), False),
    ("GET", "/v1/parties/{party_id}/certifications"): (frozenset({"platform", "support", "read"}), True),
    ("POST", "/v1/parties/{party_id}/allowlist"): (frozenset({"platform", "support"}), True),
    ("DELETE", "/v1/parties/{party_id}/allowlist/{recipient_party_id}"): (frozenset({"platform", "support"}), True),
    ("GET", "/v1/parties/{party_id}/allowlist"): (frozenset({"platform", "support", "read"}), True),
    ("PATCH", "/v1/parties/{party_id}"): (frozenset({"platform"}), False),
    ("GET", "/v1/alerts"): (frozenset({"support"}), False),
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): (frozenset({"support"}), False),
    ("GET", "/v1/audit-events"): (frozenset({"support"}), False),
}
"""(method, path): the scopes a key needs (admin holds them all) and whether a party token may call.
A party suspends nothing and certifies nothing; its allowlist is its own only where the platform allows it."""
BACK_OFFICE_WORDS = ("allowlist", "certification", "alerts", "audit")


def _back_office_routes(app: FastAPI) -> dict[tuple[str, str], Route]:
    found = {}
    for route in api_routes(app.routes):
        for method in route.methods:
            if (method, route.path) in BACK_OFFICE or any(word in route.path for word in BACK_OFFICE_WORDS):
                found[(method, route.path)] = route
    return found


def _declared(route: Route) -> tuple[frozenset[str], bool]:
    scopes = next(frozenset(call.sika_scopes) for call in route.dependency_calls() if hasattr(call, "sika_scopes"))
    return scopes, route.marked("sika_allow_party")


def test_every_back_office_route_declares_the_tables_callers(app: FastAPI) -> None:
    routes = _back_office_routes(app)
    assert set(routes) == set(BACK_OFFICE), "a back-office route must join the table"
    wrong = {key: _declared(route) for key, route in routes.items() if _declared(route) != BACK_OFFICE[key]}
    assert wrong == {}


@pytest.mark.parametrize(("method", "path"), sorted(BACK_OFFICE))
async def test_each_credential_gets_what_the_table_says(
    client: httpx.AsyncClient, cast: Cast, method: str, path: str
) -> None:
    scopes, party_allowed = BACK_OFFICE[(method, path)]
    await set_settings(client, cast, p2p_allowlist_self_service=True)
    url = path.format(party_id=cast.sender.party_id, recipient_party_id=cast.recipient.party_id, alert_id="alrt_x")
    body: dict[str, Any] = {
        "recipient_party_id": cast.recipient.party_id,
        "level": 1,
        "reason": "checked",
        "status": "active",
    }
    callers = {"platform": cast.platform, "support": cast.support, "read": cast.read, "party": cast.sender.headers}
    for name, headers in callers.items():
        may = party_allowed if name == "party" else name in scopes
        response = await client.request(
            method, url, json=body if method in ("POST", "PATCH") else None, headers=headers
        )
        refused = response.status_code == 403
        assert refused is not may, (name, method, path, response.status_code, response.text)


async def test_a_platform_key_cannot_certify(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    still = await Still.now(sessions)
    body = {"level": 3, "reason": "self-granted"}
    refused = await client.post(f"/v1/parties/{cast.sender.party_id}/certification", json=body, headers=cast.platform)
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    await still.assert_nothing_moved(sessions)


async def test_a_read_key_cannot_change_an_allowlist(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    still = await Still.now(sessions)
    added = await client.post(
        f"/v1/parties/{cast.sender.party_id}/allowlist",
        json={"recipient_party_id": cast.recipient.party_id},
        headers=cast.read,
    )
    removed = await client.delete(
        f"/v1/parties/{cast.sender.party_id}/allowlist/{cast.recipient.party_id}", headers=cast.read
    )
    assert (added.status_code, added.json()["code"]) == (403, "permission_denied")
    assert (removed.status_code, removed.json()["code"]) == (403, "permission_denied")
    await still.assert_nothing_moved(sessions)


async def test_a_party_changes_its_allowlist_only_where_the_platform_allows_it(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    path = f"/v1/parties/{cast.sender.party_id}/allowlist"
    body = {"recipient_party_id": cast.recipient.party_id}
    still = await Still.now(sessions)
    refused = await client.post(path, json=body, headers=cast.sender.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "allowlist_not_self_service")
    await still.assert_nothing_moved(sessions)
    await set_settings(client, cast, p2p_allowlist_self_service=True)
    assert (await client.post(path, json=body, headers=cast.sender.headers)).status_code == 201
    others = await client.post(f"/v1/parties/{cast.other.party_id}/allowlist", json=body, headers=cast.sender.headers)
    assert (others.status_code, others.json()["code"]) == (403, "not_owned_by_party")
    listed = (await client.get(path, headers=cast.sender.headers)).json()["data"]
    assert [entry["recipient_party_id"] for entry in listed] == [cast.recipient.party_id]
    removed = await client.delete(f"{path}/{cast.recipient.party_id}", headers=cast.sender.headers)
    assert removed.status_code == 204
    assert (await client.get(path, headers=cast.platform)).json()["data"] == []
    events = await scalar(
        sessions,
        "SELECT array_agg(data->>'change' ORDER BY seq) FROM events"
        " WHERE type = 'allowlist.changed' AND entity_id = :id",
        id=cast.sender.party_id,
    )
    assert events == ["added", "removed"]
    audited = await scalar(
        sessions,
        "SELECT array_agg(action ORDER BY seq) FROM audit_events WHERE entity_id = :id AND action LIKE 'allowlist.%'",
        id=cast.sender.party_id,
    )
    assert audited == ["allowlist.added", "allowlist.removed"]


async def test_certifications_keep_their_history(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    path = f"/v1/parties/{cast.recipient.party_id}/certification"
    first = await client.post(path, json={"level": 2, "reason": "ID checked"}, headers=cast.support)
    second = await client.post(path, json={"level": 0, "reason": "documents expired"}, headers=cast.admin)
    assert (first.status_code, second.status_code) == (201, 201)
    assert (second.json()["level"], second.json()["previous_level"]) == (0, 2)
    history = (await client.get(f"{path}s", headers=cast.recipient.headers)).json()["data"]
    assert [(d["level"], d["reason"]) for d in history] == [(0, "documents expired"), (2, "ID checked")]
    events = await scalar(
        sessions,
        "SELECT array_agg(data->>'level' ORDER BY seq) FROM events WHERE type = 'party.certified' AND entity_id = :id",
        id=cast.recipient.party_id,
    )
    assert events == ["2", "0"]
    audited = await scalar(
        sessions,
        "SELECT count(*) FROM audit_events WHERE action = 'party.certified' AND entity_id = :id",
        id=cast.recipient.party_id,
    )
    assert audited == 2
