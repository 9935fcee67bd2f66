"""Delivering events to a platform's endpoint: each signed as the Standard
Webhooks specification says (checked with its reference library, not Sika's
code), retried on the schedule with one ``webhook-id``, failed and the endpoint
disabled when the receiver stays down, one object's events in order while
another's flow, replayed with their original ids."""

from __future__ import annotations

from typing import Any

import httpx
import standardwebhooks
from standardwebhooks.webhooks import WebhookVerificationError

from sika.core.config import Settings
from tests.outbound.conftest import Headers, Sessions, emit, pump_until, register, scalar
from tests.support.receiver import Received, receiving
from tests.support.server import free_port
from tests.support.tasks import all_of

COMPRESSED = [0, 0.05, 0.05, 0.05]
"""The retry schedule squeezed into a fraction of a second: four attempts."""


def fast(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"OUTBOUND_RETRY_DELAYS_SECONDS": COMPRESSED, **changes})


def verified(secret: str, request: Received) -> dict[str, Any]:
    payload: dict[str, Any] = standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    return payload


async def deliveries(client: httpx.AsyncClient, headers: Headers, endpoint_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def test_an_event_arrives_signed_as_the_specification_says(
    client: httpx.AsyncClient,
    platform_headers: Headers,
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
) -> None:
    with receiving() as receiver:
        endpoint = await register(client, platform_headers, receiver.url, event_types=["payout.*"])
        event_id = await emit(sessions, "po_one", status="failed")
        await emit(sessions, "col_other", "collection.succeeded")  # not a type it takes
        await pump_until(sessions, settings, sender, lambda: len(receiver.received) >= 1)

    [request] = receiver.received
    payload = verified(endpoint["secret"], request)
    assert request.headers["webhook-id"] == event_id
    assert payload["id"] == event_id
    assert payload["type"] == "payout.failed"
    assert payload["data"] == {"id": "po_one", "status": "failed"}
    assert isinstance(payload["sequence"], int)
    assert payload["created_at"]
    [delivery] = await deliveries(client, platform_headers, endpoint["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("succeeded", 1, 200)
    assert delivery["event_id"] == event_id
    try:
        standardwebhooks.Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)
    except WebhookVerificationError:
        pass
    else:
        raise AssertionError("another secret verified the signature")


async def test_a_500_then_a_200_is_two_deliveries_of_one_webhook_id(
    client: httpx.AsyncClient,
    platform_headers: Headers,
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
) -> None:
    with receiving(statuses=[500]) as receiver:
        endpoint = await register(client, platform_headers, receiver.url)
        event_id = await emit(sessions, "po_retried")
        await pump_until(sessions, fast(settings), sender, lambda: len(receiver.received) >= 2)

    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id, event_id]
    assert all(verified(endpoint["secret"], r)["id"] == event_id for r in receiver.received)
    [delivery] = await deliveries(client, platform_headers, endpoint["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("succeeded", 2, 200)


async def test_a_receiver_that_stays_down_fails_the_delivery_and_disables_the_endpoint(
    client: httpx.AsyncClient,
    platform_headers: Headers,
    admin_headers: Headers,
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
) -> None:
    down = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens there
    endpoint = await register(client, platform_headers, down, event_types=["payout.*"])
    event_id = await emit(sessions, "po_lost")
    failing = fast(settings, OUTBOUND_DISABLE_AFTER_SECONDS=0)

    async def failed() -> bool:
        return bool(await scalar(sessions, "SELECT count(*) FROM outbound_deliveries WHERE status = 'failed'"))

    await pump_until(sessions, failing, sender, failed)
    [delivery] = await deliveries(client, platform_headers, endpoint["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("failed", 4, None)
    assert delivery["last_error"]
    shown = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=platform_headers)).json()
    assert (shown["enabled"], shown["disabled_reason"]) == (False, "every delivery failed for too long")
    alerts = (await client.get("/v1/alerts", headers=admin_headers)).json()["data"]
    assert {(a["kind"], a["severity"]) for a in alerts} == {
        ("outbound.delivery_failed", "warning"),
        ("outbound.endpoint_disabled", "critical"),
    }
    events = (await client.get("/v1/events?type=webhook_endpoint.disabled", headers=platform_headers)).json()["data"]
    assert [e["entity_id"] for e in events] == [endpoint["id"]]

    # Back up, enabled again: the retry button sends it, with its webhook-id.
    with receiving() as receiver:
        enabled = await client.patch(
            f"/v1/webhook-endpoints/{endpoint['id']}",
            json={"url": receiver.url, "enabled": True},
            headers=platform_headers,
        )
        assert enabled.status_code == 200, enabled.text
        retried = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/retry", headers=platform_headers
        )
        assert retried.status_code == 200, retried.text
        await pump_until(sessions, settings, sender, lambda: len(receiver.received) >= 1)
    assert [verified(endpoint["secret"], r)["id"] for r in receiver.received] == [event_id]


async def test_one_objects_events_wait_in_order_while_anothers_flow(
    client: httpx.AsyncClient,
    platform_headers: Headers,
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
) -> None:
    refusals = 3

    def rule(request: Received, earlier: list[Received]) -> int:
        """The first event of po_held is refused three times; everything else is taken."""
        same = [r for r in earlier if r.headers["webhook-id"] == request.headers["webhook-id"]]
        return (
            500
            if request.json["data"]["id"] == "po_held" and request.json["data"]["n"] == 0 and len(same) < refusals
            else 200
        )

    with receiving(rule=rule) as receiver:
        await register(client, platform_headers, receiver.url)
        for n in range(3):
            await emit(sessions, "po_held", n=n)
            await emit(sessions, "po_free", n=n)
            await emit(sessions, "po_free", n=n + 3)
        # Retries far enough apart that the other object's six events all go meanwhile, one by one.
        spaced = fast(settings, OUTBOUND_RETRY_DELAYS_SECONDS=[0, 0.5, 0.5, 0.5])
        await pump_until(sessions, spaced, sender, lambda: len(receiver.received) >= 3 + refusals + 6)

    held = [(r.json["data"]["n"], r.json["sequence"]) for r in receiver.received if r.json["data"]["id"] == "po_held"]
    assert [n for n, _ in held] == [0, 0, 0, 0, 1, 2]
    assert [s for _, s in held] == sorted(s for _, s in held)
    free = [r.json["data"]["n"] for r in receiver.received if r.json["data"]["id"] == "po_free"]
    assert sorted(free) == list(range(6))
    assert free == [0, 3, 1, 4, 2, 5]
    # po_free's events all went while po_held's first was being retried.
    first_taken = next(i for i, r in enumerate(receiver.received) if r.json["data"] == {"id": "po_held", "n": 1})
    assert all(i < first_taken for i, r in enumerate(receiver.received) if r.json["data"]["id"] == "po_free")


async def test_a_replay_sends_again_with_the_original_ids_in_order(
    client: httpx.AsyncClient,
    platform_headers: Headers,
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
) -> None:
    with receiving() as receiver:
        endpoint = await register(client, platform_headers, receiver.url)
        ids = [await emit(sessions, "po_replayed", n=n) for n in range(3)]
        await pump_until(sessions, settings, sender, lambda: len(receiver.received) >= 3)
        second = receiver.received[1].json["sequence"]
        replayed = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"since_sequence": second}, headers=platform_headers
        )
        assert replayed.status_code == 200, replayed.text
        assert replayed.json() == {"deliveries": 2}
        await pump_until(sessions, settings, sender, lambda: len(receiver.received) >= 5)

    assert [r.headers["webhook-id"] for r in receiver.received] == [*ids, *ids[1:]]
    assert all(verified(endpoint["secret"], r) for r in receiver.received)


async def test_two_pumps_side_by_side_keep_each_objects_order(
    client: httpx.AsyncClient,
    platform_headers: Headers,
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
) -> None:
    """Two pumps at once (as two workers run them), receivers refusing every fifth
    request: every event arrives, and each object's events arrive in sequence order."""
    objects, each = 6, 15

    def rule(request: Received, earlier: list[Received]) -> int:
        return 500 if len(earlier) % 5 == 4 else 200

    with receiving(rule=rule) as receiver:
        await register(client, platform_headers, receiver.url)
        for n in range(each):
            for o in range(objects):
                await emit(sessions, f"po_lane{o}", n=n)

        def delivered() -> bool:
            # Every event answered 200 once, not only sent once: an event whose last try got the 500
            # is still to come again, and stopping then would read its lane as out of order.
            answered = zip(list(receiver.received), list(receiver.answered), strict=False)
            return (
                len({r.headers["webhook-id"] for r, status in answered if r.json and status == 200}) >= objects * each
            )

        # Enough tries that no event runs out of them on the every-fifth 500s: one that did would
        # be failed for good, and its lane would go on without it.
        patient = fast(settings, OUTBOUND_RETRY_DELAYS_SECONDS=[0, *[0.05] * 20])
        async with httpx.AsyncClient(timeout=5.0) as other:
            await all_of(
                pump_until(sessions, patient, sender, delivered),
                pump_until(sessions, patient, other, delivered),
            )

    firsts: dict[str, list[int]] = {}
    seen: set[str] = set()
    for request, status in zip(receiver.received, receiver.answered, strict=True):
        if status == 200 and request.headers["webhook-id"] not in seen:
            seen.add(request.headers["webhook-id"])
            firsts.setdefault(request.json["data"]["id"], []).append(request.json["data"]["n"])
    assert sorted(firsts) == [f"po_lane{o}" for o in range(objects)]
    assert all(ns == list(range(each)) for ns in firsts.values()), firsts
