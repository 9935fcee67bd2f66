"""The dashboard's webhook endpoints page: each endpoint with its failure rate,
the failing deliveries with a retry button that sends the event again (CSRF
checked, nothing changed by a forged form); in English and in French."""

from __future__ import annotations

import re

import httpx

from sika.core.config import Settings
from sika.dashboard import i18n
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, form_token, sign_in
from tests.outbound.conftest import Headers, Sessions, emit, pump_until, register, scalar
from tests.outbound.test_delivery import fast
from tests.support.receiver import receiving
from tests.support.server import free_port


def _rows(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.DOTALL)
    return re.findall(r'<tr data-id="([^"]+)">', table.group(1)) if table else []


async def test_the_page_shows_failure_rates_and_retries_a_failed_delivery(
    client: httpx.AsyncClient,
    platform_headers: Headers,
    admin_headers: Headers,
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
) -> None:
    down = await register(client, platform_headers, f"http://127.0.0.1:{free_port()}/hooks", event_types=["payout.*"])
    await emit(sessions, "po_down", "payout.bounced")  # a type no dashboard label spells

    async def failed() -> bool:
        return bool(await scalar(sessions, "SELECT count(*) FROM outbound_deliveries WHERE status = 'failed'"))

    await pump_until(sessions, fast(settings), sender, failed)
    delivery = await scalar(sessions, "SELECT id FROM outbound_deliveries")

    assert (await sign_in(client, admin_headers["Authorization"].split()[1])).status_code == 303
    page = (await client.get(f"{DASHBOARD}/webhook-endpoints")).text
    assert _rows(page, "endpoints") == [down["id"]]
    assert 'data-rate="1.00"' in page
    assert _rows(page, "failing") == [delivery]

    french = pages.text((await client.get(f"{DASHBOARD}/webhook-endpoints", headers={"Accept-Language": "fr"})).text)
    assert "Livraisons en échec (1)" in french
    english_only = {english for english, french in i18n.MESSAGES.values() if english != french and len(english) > 3}
    assert sorted(label for label in english_only if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", french)) == []

    action = f"{DASHBOARD}/webhook-endpoints/{down['id']}/deliveries/{delivery}/retry"
    forged = await client.post(action, data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert await scalar(sessions, "SELECT status FROM outbound_deliveries") == "failed"

    with receiving() as receiver:
        moved = await client.patch(
            f"/v1/webhook-endpoints/{down['id']}", json={"url": receiver.url, "enabled": True}, headers=platform_headers
        )
        assert moved.status_code == 200, moved.text
        blank = await client.post(action, data={"csrf_token": form_token(page), "reason": " "})
        assert blank.status_code == 400
        assert await scalar(sessions, "SELECT status FROM outbound_deliveries") == "failed"
        done = await client.post(action, data={"csrf_token": form_token(page), "reason": "the endpoint is back"})
        assert done.status_code == 303
        assert done.headers["location"] == f"{DASHBOARD}/webhook-endpoints?retried={delivery}"
        await pump_until(sessions, settings, sender, lambda: len(receiver.received) == 1)
    assert await scalar(sessions, "SELECT status FROM outbound_deliveries") == "succeeded"
    actor = await scalar(sessions, "SELECT actor FROM audit_events WHERE action = 'webhook_delivery.retried'")
    assert actor.startswith("key:")
