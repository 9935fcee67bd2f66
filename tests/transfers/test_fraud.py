"""Each fraud rule a platform sets raises an alert naming the rule, its figures
and the transfers when a movement matches it, refuses the movement when the
rule blocks (the alert kept, nothing moved), and says nothing of a normal
pattern; the alerts appear in GET /v1/alerts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.factories import owner
from tests.support.ledger import snapshot
from tests.support.operations import rows_beside_answers
from tests.transfers.conftest import Cast, Sessions, alerts_of, certify, send, sent, set_settings

ALL_RULES: dict[str, Any] = {
    "new_recipient": {"above_minor": 50_000},
    "burst": {"count": 5, "minutes": 10},
    "large_amount": {"factor": 10, "min_history": 3},
    "many_recipients": {"recipients": 4},
    "after_certification": {"minutes": 30},
}


async def fraud_alerts(sessions: Sessions) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, data) for kind, data in await alerts_of(sessions) if kind.startswith("p2p.fraud.")]


async def test_a_normal_pattern_raises_no_alert(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    await set_settings(client, cast, fraud_rules=ALL_RULES)
    for amount in (2_000, 3_000, 2_500):
        await sent(client, cast.sender.headers, cast.sender, cast.recipient, amount)
    await sent(client, cast.sender.headers, cast.sender, cast.other, 1_500)
    assert await fraud_alerts(sessions) == []


async def test_a_first_transfer_to_a_new_recipient_above_the_threshold(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    await set_settings(client, cast, fraud_rules={"new_recipient": {"above_minor": 50_000}})
    first = await sent(client, cast.platform, cast.sender, cast.recipient, 60_000)
    await sent(client, cast.platform, cast.sender, cast.recipient, 60_000)  # no longer new
    ((kind, data),) = await fraud_alerts(sessions)
    assert kind == "p2p.fraud.new_recipient"
    assert data["rule"] == "new_recipient"
    assert data["figures"] == {"amount_minor": 60_000, "above_minor": 50_000}
    assert data["transfer_ids"] == [first["id"]]
    assert data["blocked"] is False
    listed = (await client.get("/v1/alerts", params={"kind": kind}, headers=cast.support)).json()
    assert [alert["entity_id"] for alert in listed["data"]] == [first["id"]]


async def test_a_burst(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    await set_settings(client, cast, fraud_rules={"burst": {"count": 3, "minutes": 10}})
    made = [await sent(client, cast.sender.headers, cast.sender, cast.recipient, 1_000) for _ in range(3)]
    ((kind, data),) = await fraud_alerts(sessions)
    assert kind == "p2p.fraud.burst"
    assert data["figures"] == {"count": 3, "threshold": 3, "minutes": 10}
    assert data["transfer_ids"] == [transfer["id"] for transfer in made]


async def test_a_large_amount_for_the_senders_history(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    await set_settings(client, cast, fraud_rules={"large_amount": {"factor": 5, "min_history": 3}})
    for amount in (1_000, 2_000, 3_000):
        await sent(client, cast.sender.headers, cast.sender, cast.recipient, amount)
    await sent(client, cast.sender.headers, cast.sender, cast.recipient, 10_000)  # 5 × 2000: not above
    assert await fraud_alerts(sessions) == []
    large = await sent(client, cast.sender.headers, cast.sender, cast.recipient, 20_001)
    ((kind, data),) = await fraud_alerts(sessions)
    assert kind == "p2p.fraud.large_amount"
    assert data["figures"] == {"amount_minor": 20_001, "average_minor": 4_000, "history": 4, "factor": 5}
    assert data["transfer_ids"] == [large["id"]]


async def test_many_distinct_recipients_in_a_day(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    await set_settings(client, cast, fraud_rules={"many_recipients": {"recipients": 3}})
    fourth = await owner(client, cast.platform, display_name="Fourth", phone="+221770000004")
    first = await sent(client, cast.platform, cast.sender, cast.recipient, 1_000)
    await sent(client, cast.platform, cast.sender, cast.recipient, 1_000)
    await sent(client, cast.platform, cast.sender, cast.other, 1_000)
    assert await fraud_alerts(sessions) == []
    third = await sent(client, cast.platform, cast.sender, fourth, 1_000)
    ((kind, data),) = await fraud_alerts(sessions)
    assert kind == "p2p.fraud.many_recipients"
    assert data["figures"] == {"recipients": 3, "threshold": 3}
    assert data["transfer_ids"][0] == first["id"]
    assert data["transfer_ids"][-1] == third["id"]
    assert len(data["transfer_ids"]) == 4


@pytest.mark.parametrize("certified", ["sender", "recipient"])
async def test_a_transfer_right_after_a_certification_change(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, certified: str
) -> None:
    await set_settings(client, cast, fraud_rules={"after_certification": {"minutes": 30}})
    await sent(client, cast.platform, cast.sender, cast.recipient, 1_000)
    assert await fraud_alerts(sessions) == []
    await certify(client, cast, cast.sender if certified == "sender" else cast.recipient, 3)
    transfer = await sent(client, cast.platform, cast.sender, cast.recipient, 1_000)
    ((kind, data),) = await fraud_alerts(sessions)
    assert kind == "p2p.fraud.after_certification"
    assert data["figures"]["minutes"] == 30
    assert data["transfer_ids"] == [transfer["id"]]


async def test_a_blocking_rule_refuses_moves_nothing_and_keeps_its_alert(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    rules = {"new_recipient": {"above_minor": 50_000, "block": True}, "burst": {"count": 1, "minutes": 10}}
    await set_settings(client, cast, fraud_rules=rules)
    ledger, rows = await snapshot(sessions), await rows_beside_answers(sessions)
    refused = await send(client, cast.sender.headers, cast.sender, cast.recipient, 60_000)
    assert (refused.status_code, refused.json()["code"]) == (409, "p2p_blocked_by_fraud_rule")
    assert "new_recipient" in refused.json()["detail"]
    assert await snapshot(sessions) == ledger
    assert await rows_beside_answers(sessions) == {**rows, "alerts": rows["alerts"] + 2}
    alerts = dict(await fraud_alerts(sessions))
    assert set(alerts) == {"p2p.fraud.new_recipient", "p2p.fraud.burst"}
    assert all(data["blocked"] for data in alerts.values())
    listed = (await client.get("/v1/alerts", headers=cast.support)).json()["data"]
    assert {alert["severity"] for alert in listed if alert["kind"].startswith("p2p.fraud.")} == {"critical"}
    allowed = await send(client, cast.sender.headers, cast.sender, cast.recipient, 50_000)
    assert allowed.status_code == 201, "at the threshold the rule does not match; the burst rule only alerts"


async def test_a_blocking_rule_refuses_a_capture_too(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    await set_settings(client, cast, fraud_rules={"new_recipient": {"above_minor": 500, "block": True}})
    placed = await client.post(
        f"/v1/wallets/{cast.sender.wallet_id}/holds", json={"amount_minor": 1_000, "reason": "x"}, headers=cast.platform
    )
    ledger = await snapshot(sessions)
    captured = await client.post(
        f"/v1/holds/{placed.json()['id']}/capture",
        json={"destination_wallet_id": cast.recipient.wallet_id},
        headers=cast.platform,
    )
    assert (captured.status_code, captured.json()["code"]) == (409, "p2p_blocked_by_fraud_rule")
    assert await snapshot(sessions) == ledger
    ((kind, data),) = await fraud_alerts(sessions)
    assert (kind, data["transfer_ids"]) == ("p2p.fraud.new_recipient", [placed.json()["id"]])
