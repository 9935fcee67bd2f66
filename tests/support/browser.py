"""Debian's headless Chromium, driven by Playwright, for tests that look at a page
as a person would; and a guard that keeps a page's requests on this machine.

Playwright's own browser download cannot run here, so it drives the
``chromium`` package, which ``scripts/test`` installs when it is missing."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Route, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_PRESENT = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A launched browser; the test is skipped without Chromium (failed in CI, where it must be)."""
    if not CHROMIUM_PRESENT:
        message = (
            f"{CHROMIUM} is missing: the browser test needs Debian's chromium package "
            "(scripts/test installs it with apt-get when run as root; or: apt-get install -y chromium)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (127.0.0.0/8, ::1, localhost); ``data:`` and ``blob:`` URLs
    load nothing from anywhere."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def keep_on_this_machine(context: BrowserContext) -> list[str]:
    """Abort every request of ``context``'s pages that would leave the machine; the
    returned list fills with their URLs, for the test to assert it stays empty."""
    attempted: list[str] = []

    async def guard(route: Route) -> None:
        if is_loopback(route.request.url):
            await route.continue_()
        else:
            attempted.append(route.request.url)
            await route.abort("blockedbyclient")

    await context.route("**/*", guard)
    return attempted
