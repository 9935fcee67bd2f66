"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) work on a machine with no
Internet access, under a CSP that refuses inline code and every other origin:
Sika serves the UI bundles and the Swagger UI starter itself.

The pages are opened in Debian's headless Chromium against a live server; every
request that would leave the machine is aborted and recorded, and the test
fails on any, on any console error, and on any CSP violation the page reports."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from sika.api import docs_ui
from sika.app import create_app
from tests.foundation.test_settings import safe_production
from tests.support.browser import chromium, keep_on_this_machine
from tests.support.server import live_api

TIMEOUT_MS = 30_000
APP_CSP = "default-src 'self'; frame-ancestors 'none'"
_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""


@dataclass
class Visit:
    """A page opened in the browser, and what went wrong while it ran."""

    page: Page
    console_errors: list[str]
    page_errors: list[str]
    left_the_machine: list[str]

    async def problems(self) -> dict[str, list[str]]:
        violations: list[str] = await self.page.evaluate("window.__cspViolations")
        return {
            "console errors": self.console_errors,
            "page errors": self.page_errors,
            "csp violations": violations,
            "requests leaving the machine": self.left_the_machine,
        }


@pytest.fixture
def base_url(database_url: str) -> Iterator[str]:
    with live_api(database_url, workers=1) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def visit(browser: Browser, url: str) -> Visit:
    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    left = await keep_on_this_machine(context)
    await context.add_init_script(_RECORD_VIOLATIONS)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    opened = Visit(page=page, console_errors=[], page_errors=[], left_the_machine=left)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: opened.page_errors.append(str(error)))
    response = await page.goto(url)
    assert response is not None
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert csp == docs_ui.content_security_policy(style_nonce=nonce.group(1) if nonce else None)
    return opened


def _operations(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, path, operationId) of every operation."""
    return [
        (method.upper(), path, operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _operation_id(document: dict[str, Any], method: str, path: str) -> str:
    (found,) = [op_id for op_method, op_path, op_id in _operations(document) if (op_method, op_path) == (method, path)]
    return found


async def _assert_nothing_went_wrong(opened: Visit) -> None:
    assert await opened.problems() == {
        "console errors": [],
        "page errors": [],
        "csp violations": [],
        "requests leaving the machine": [],
    }


async def test_swagger_ui_shows_every_operation_with_nothing_from_outside(
    browser: Browser, base_url: str, app: FastAPI, tmp_path: Path
) -> None:
    document = app.openapi()
    opened = await visit(browser, f"{base_url}/docs")
    page = opened.page

    create_party = page.locator(".opblock.opblock-post", has=page.locator('[data-path="/v1/parties"]'))
    await expect(create_party).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator(".opblock")).to_have_count(len(_operations(document)))
    await expect(page.locator(".info .title")).to_contain_text("Sika")
    # The document's security schemes give the page its Authorize button (an API key or a party token).
    await expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    # The stylesheet applied: a refused one leaves the POST blocks without their green tint.
    tint = await create_party.evaluate("block => getComputedStyle(block).backgroundColor")
    assert tint == "rgba(73, 204, 144, 0.1)"

    # "Try it out" calls Sika from the page, as the CSP's connect-src allows.
    health = page.locator(".opblock.opblock-get", has=page.locator('[data-path="/health"]'))
    await health.locator(".opblock-summary").click()
    await health.get_by_role("button", name="Try it out").click()
    await health.get_by_role("button", name="Execute").click()
    await expect(health.locator(".live-responses-table tr.response .response-col_status").first).to_have_text(
        "200", timeout=TIMEOUT_MS
    )
    await expect(health.locator(".live-responses-table .microlight").first).to_contain_text('"ok"')
    await page.screenshot(path=str(tmp_path / "docs.png"))
    await _assert_nothing_went_wrong(opened)


async def test_redoc_shows_every_operation_with_nothing_from_outside(
    browser: Browser, base_url: str, app: FastAPI, tmp_path: Path
) -> None:
    document = app.openapi()
    opened = await visit(browser, f"{base_url}/redoc")
    page = opened.page

    await expect(page.get_by_role("heading", name=re.compile("^Sika"))).to_be_visible(timeout=TIMEOUT_MS)
    create_party = _operation_id(document, "POST", "/v1/parties")
    section = page.locator(f'[data-section-id="tag/parties/operation/{create_party}"]')
    await expect(section.get_by_role("heading", level=2)).to_be_visible()
    sections = page.locator('[data-section-id^="tag/"][data-section-id*="/operation/"]')
    await expect(sections).to_have_count(len(_operations(document)))
    # The style ReDoc's bundle inserts as it loads (its menu's scrollbar) applied, by the page's nonce.
    menu_overflow = await page.locator(".ps").first.evaluate("menu => getComputedStyle(menu).overflow")
    assert menu_overflow == "hidden"
    await page.screenshot(path=str(tmp_path / "redoc.png"))
    await _assert_nothing_went_wrong(opened)


async def test_the_pages_allow_no_inline_script_and_no_other_origin(client: httpx.AsyncClient) -> None:
    nonces = []
    for path in ("/docs", "/redoc", "/docs", "/redoc"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        csp = response.headers["content-security-policy"]
        assert "unsafe" not in csp
        assert "http" not in csp
        assert "*" not in csp
        assert "script-src 'self';" in csp
        scripts = re.findall(r"<script[^>]*>", response.text)
        assert scripts
        assert all(re.search(r' src="/docs-assets/[\w.-]+\.js"', tag) for tag in scripts), scripts
        assert "</script>" * len(scripts) == "".join(re.findall(r"</script>", response.text))
        assert re.search(r"<script[^>]*>[^<]", response.text) is None, "no script has a body"
        assert " style=" not in response.text
        assert "<style" not in response.text
        nonce = re.search(r"'nonce-([^']+)'", csp)
        if path == "/redoc":
            assert nonce is not None
            assert response.text.count(f'data-style-nonce="{nonce.group(1)}"') == 2
            nonces.append(nonce.group(1))
        else:
            assert nonce is None
    assert len(set(nonces)) == 2, "each page view has its own nonce"
    # Every other answer keeps the app's own CSP.
    assert (await client.get("/health")).headers["content-security-policy"] == APP_CSP
    assert (await client.get("/openapi.json")).headers["content-security-policy"] == APP_CSP


async def test_the_assets_are_served_by_sika(client: httpx.AsyncClient) -> None:
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js", "redoc-init.js", "favicon.png"):
        response = await client.get(f"{docs_ui.ASSETS_PATH}/{name}")
        assert response.status_code == 200, name
        assert len(response.content) > 300, name
    redoc = await client.get(f"{docs_ui.ASSETS_PATH}/{docs_ui.REDOC_SCRIPT}")
    assert redoc.status_code == 200
    assert redoc.headers["content-type"] == "text/javascript; charset=utf-8"
    assert len(redoc.content) > 1_000_000
    assert b"cdn.redoc.ly" not in redoc.content
    assert redoc.content.count(b".nc=document.currentScript.dataset.styleNonce;") == 1
    assert (await client.get(f"{docs_ui.ASSETS_PATH}/nothing.js")).status_code == 404


async def test_production_serves_no_reference_pages(database_url: str, engine: AsyncEngine) -> None:
    app = create_app(safe_production(), database_url=database_url, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sika.test") as client:
        for path in ("/docs", "/redoc", f"{docs_ui.ASSETS_PATH}/swagger-ui-bundle.js"):
            assert (await client.get(path)).status_code == 404, path
