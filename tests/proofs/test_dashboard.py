"""The dashboard's review queue: each proof waiting for an operator with its photo (served
through the operator's session), its position, its distance to the site and why it waits;
approving it there releases the milestone (CSRF-checked, audited), in English and French, and
in a real browser."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core.config import Settings
from sika.dashboard import i18n
from tests.dashboard import conftest as dashboard_conftest
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, TIMEOUT_MS, form_token, sign_in
from tests.escrow.conftest import Cast, scalar
from tests.proofs.conftest import delivered, geofenced, send
from tests.proofs.photos import SITE, jpeg, north_of, now
from tests.support.ledger import snapshot
from tests.support.operations import row_counts
from tests.support.server import live_api

Sessions = async_sessionmaker[AsyncSession]
RELEASES = "SELECT count(*) FROM ledger_transfers WHERE id LIKE 'esc\\_%.m1.release'"
browser = dashboard_conftest.browser
"""The dashboard tests' headless Chromium, a fixture of this folder too."""


async def waiting(client: httpx.AsyncClient, cast: Cast) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """An escrow whose milestone's proof was taken 2 km from the site: it waits for review."""
    escrow = await delivered(client, cast, geofenced(required=True))
    photo = jpeg(at=north_of(SITE, 2_000), taken=now())
    response = await send(client, escrow, cast.beneficiary.headers, ("far.jpg", photo))
    assert response.status_code == 201, response.text
    proof: dict[str, Any] = response.json()["data"][0]
    return escrow, proof, photo


def _queued(page: str) -> list[str]:
    return re.findall(r'<article class="proof" data-id="([^"]+)">', page)


async def test_the_queue_shows_the_photo_its_position_and_reasons(client: httpx.AsyncClient, cast: Cast) -> None:
    _, proof, photo = await waiting(client, cast)
    assert (await sign_in(client, cast.support["Authorization"].split()[1])).status_code == 303
    page = (await client.get(f"{DASHBOARD}/proofs")).text
    assert _queued(page) == [proof["id"]]
    text = pages.text(page)
    assert "2,000 m" in text
    assert "taken outside the site" in text
    image = await client.get(f"{DASHBOARD}/proofs/{proof['id']}/file")
    assert (image.status_code, image.content, image.headers["content-type"]) == (200, photo, "image/jpeg")
    french = pages.text((await client.get(f"{DASHBOARD}/proofs", headers={"Accept-Language": "fr"})).text)
    assert "Preuves à examiner" in french
    assert "prise hors du site" in french
    english_only = {english for english, french in i18n.MESSAGES.values() if english != french and len(english) > 3}
    leftover = sorted(label for label in english_only if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", french))
    assert leftover == []


async def test_an_operator_approves_from_the_page_and_a_forged_form_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    _, proof, _ = await waiting(client, cast)
    assert (await sign_in(client, cast.support["Authorization"].split()[1])).status_code == 303
    page = (await client.get(f"{DASHBOARD}/proofs")).text
    action = f"{DASHBOARD}/proofs/{proof['id']}/decision"
    fields = {"csrf_token": form_token(page), "decision": "approve", "reason": "Checked with the site manager"}
    before = await snapshot(sessions), await row_counts(sessions)
    for refused, status in (({**fields, "csrf_token": "forged"}, 403), ({**fields, "reason": " "}, 400)):
        response = await client.post(action, data=refused)
        assert response.status_code == status, response.text
        assert (await snapshot(sessions), await row_counts(sessions)) == before
    done = await client.post(action, data=fields)
    assert done.status_code == 303, done.text
    assert await scalar(sessions, RELEASES) == 1
    actor = await scalar(
        sessions, "SELECT actor FROM audit_events WHERE entity_id = :id AND action = 'proof.approved'", id=proof["id"]
    )
    assert actor.startswith("key:")
    assert _queued((await client.get(done.headers["location"])).text) == []
    again = await client.post(action, data=fields)
    assert again.status_code == 409


async def test_in_a_real_browser_an_operator_sees_the_photo_and_approves_it(
    browser: Any, client: httpx.AsyncClient, cast: Cast, sessions: Sessions, settings: Settings, database_url: str
) -> None:
    escrow, proof, _ = await waiting(client, cast)
    env = {"SIKA_PROOF_FILES_DIR": str(settings.proof_files_dir)}
    with live_api(database_url, workers=1, env=env) as base_url:
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page: Page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{base_url}/dashboard/proofs")
        await page.get_by_label("API key").fill(cast.support["Authorization"].split()[1])
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(f"{base_url}/dashboard/proofs")
        card = page.locator(f'article.proof[data-id="{proof["id"]}"]')
        image = card.get_by_role("img", name=f"Photo {proof['id']}")
        await expect(image).to_be_visible()
        # The photo loaded and decoded: the browser knows its size.
        assert await image.evaluate("img => img.complete && img.naturalWidth") == 64
        await expect(card.locator(".distance")).to_have_text("2,000 m")
        await card.get_by_label("Reason").fill("The foreman sent a video call")
        await card.get_by_role("button", name="Approve and release").click()
        await expect(page.locator("#decided")).to_be_visible()
        await expect(page.locator("article.proof")).to_have_count(0)
        await context.close()
    assert await scalar(sessions, RELEASES) == 1
    shown = (await client.get(f"/v1/escrows/{escrow['id']}", headers=cast.platform)).json()
    assert shown["milestones"][0]["status"] == "released"
    stored = Path(settings.proof_files_dir) / proof["sha256"][:2] / proof["sha256"]
    assert await asyncio.to_thread(stored.exists)
