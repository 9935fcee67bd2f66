"""Proof tests start from the escrow tests' cast (a funded client, a beneficiary, a third
party, the platform's, an operator's and an admin's keys), with the proof files kept in a
folder of the test's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sika.core.config import Environment, Settings
from tests.escrow import conftest as escrow_conftest
from tests.escrow.conftest import Cast, act, funded
from tests.proofs.photos import RADIUS_M, SITE
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)

Headers = dict[str, str]
AMOUNT = 10_000
cast = escrow_conftest.cast
"""The escrow tests' cast, a fixture of this folder too."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        ENV=Environment.test,
        RATE_LIMIT_PER_KEY="100000/minute",
        RATE_LIMIT_PER_ADDRESS="100000/minute",
        PROOF_FILES_DIR=tmp_path / "proofs",
        PROOF_MAX_PIXELS=4_000_000,
    )


def geofenced(**overrides: Any) -> dict[str, Any]:
    """A rule: the site, 100 m around it, photos at most an hour older than delivery, approved on their own."""
    return {
        "geofence": {"latitude": SITE[0], "longitude": SITE[1], "radius_m": RADIUS_M},
        "max_age_seconds": 3600,
        **overrides,
    }


async def delivered(
    client: httpx.AsyncClient, cast: Cast, rule: dict[str, Any] | None, **overrides: Any
) -> dict[str, Any]:
    """A funded escrow of one milestone with ``rule`` (none: no rule), delivered by the beneficiary."""
    escrow = await funded(client, cast, AMOUNT, **overrides)
    if rule is not None:
        response = await act(client, escrow, "milestones/1/proof-rule", cast.platform, rule)
        assert response.status_code == 200, response.text
    response = await act(client, escrow, "milestones/1/deliver", cast.beneficiary.headers)
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return done


async def send(
    client: httpx.AsyncClient,
    escrow: dict[str, Any],
    headers: Headers,
    *files: tuple[str, bytes],
    number: int = 1,
    **kwargs: Any,
) -> httpx.Response:
    """POST the files (name, bytes) as proofs of milestone ``number``, each as a JPEG by its header."""
    return await client.post(
        f"/v1/escrows/{escrow['id']}/milestones/{number}/proofs",
        files=[("files", (name, data, "image/jpeg")) for name, data in files],
        headers=headers,
        **kwargs,
    )
