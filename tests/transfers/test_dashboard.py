"""The dashboard's transfers page shows the newest transfers between parties
and the fraud rules' open alerts, in English and in French; another
platform's operator sees none of them."""

from __future__ import annotations

import re

import httpx

from sika.dashboard import i18n
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, sign_in
from tests.transfers.conftest import Cast, sent, set_settings


def _rows(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.DOTALL)
    return re.findall(r'<tr data-id="([^"]+)">', table.group(1)) if table else []


async def test_the_transfers_page_shows_transfers_and_fraud_alerts(client: httpx.AsyncClient, cast: Cast) -> None:
    await set_settings(client, cast, fraud_rules={"new_recipient": {"above_minor": 50_000}})
    first = await sent(client, cast.platform, cast.sender, cast.recipient, 1_000, reference="rent")
    large = await sent(client, cast.platform, cast.sender, cast.other, 60_000)
    assert (await sign_in(client, cast.support["Authorization"].split()[1])).status_code == 303
    response = await client.get(f"{DASHBOARD}/transfers")
    assert response.status_code == 200, response.text
    page = response.text
    assert _rows(page, "transfers") == [large["id"], first["id"]]
    (alert,) = _rows(page, "fraud-alerts")
    assert alert.startswith("alrt_")
    assert "p2p.fraud.new_recipient" in page
    assert "Open fraud alerts (1)" in pages.text(page)

    french = pages.text((await client.get(f"{DASHBOARD}/transfers", headers={"Accept-Language": "fr"})).text)
    assert "Transferts entre parties" in french
    assert "Alertes antifraude ouvertes (1)" in french
    english_only = {english for english, french in i18n.MESSAGES.values() if english != french and len(english) > 3}
    leftover = sorted(label for label in english_only if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", french))
    assert leftover == []


async def test_another_platforms_operator_sees_none_of_them(client: httpx.AsyncClient, cast: Cast) -> None:
    transfer = await sent(client, cast.platform, cast.sender, cast.recipient, 1_000)
    other = await client.post(
        "/v1/platforms", json={"name": "Other shop", "default_currency": "XOF"}, headers=cast.admin
    )
    assert other.status_code == 201, other.text
    key = await client.post(
        "/v1/api-keys",
        json={"name": "other support", "scopes": ["support"], "platform_id": other.json()["id"]},
        headers=cast.admin,
    )
    assert (await sign_in(client, key.json()["secret"])).status_code == 303
    page = (await client.get(f"{DASHBOARD}/transfers")).text
    assert _rows(page, "transfers") == []
    assert transfer["id"] not in page
