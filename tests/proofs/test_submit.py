"""Proofs sent for a delivered milestone: each photo read from its bytes, checked for
place (geofence), time and reuse, recorded with its checks, and either approved (the
milestone released at once, in the same transaction) or left for an operator with its
reasons; a file that is no image, a decompression bomb or a photo used before is
refused and moves nothing."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core.config import Settings
from tests.escrow.conftest import Cast, available, events_of, funded, scalar
from tests.proofs.conftest import AMOUNT, delivered, geofenced, send
from tests.proofs.photos import RADIUS_M, SITE, bomb, heic, jpeg, north_of, now, png
from tests.support.idempotency import NO_KEY
from tests.support.ledger import snapshot
from tests.support.operations import rows_beside_answers

Sessions = async_sessionmaker[AsyncSession]
RELEASES = "SELECT count(*) FROM ledger_transfers WHERE id LIKE 'esc\\_%.m1.release'"


async def milestone(client: httpx.AsyncClient, cast: Cast, escrow: dict[str, Any]) -> dict[str, Any]:
    shown = (await client.get(f"/v1/escrows/{escrow['id']}", headers=cast.platform)).json()
    found: dict[str, Any] = shown["milestones"][0]
    return found


async def test_a_photo_taken_on_site_releases_the_milestone_on_its_own(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, settings: Settings
) -> None:
    escrow = await delivered(client, cast, geofenced())
    before = await available(client, cast.platform, cast.beneficiary.wallet_id)
    photo = jpeg(at=north_of(SITE, 50), taken=now() - timedelta(minutes=10))
    response = await send(client, escrow, cast.beneficiary.headers, ("site.jpg", photo))
    assert response.status_code == 201, response.text
    [proof] = response.json()["data"]
    assert (proof["status"], proof["released"], proof["reasons"]) == ("approved", True, [])
    assert [(c["check"], c["passed"]) for c in proof["checks"]] == [
        ("image", True),
        ("unique", True),
        ("geofence", True),
        ("photo_time", True),
    ]
    assert proof["distance_m"] == pytest.approx(50, abs=0.5)
    assert proof["sha256"] == hashlib.sha256(photo).hexdigest()
    assert proof["content_type"] == "image/jpeg"
    assert proof["location"]["latitude"] == pytest.approx(north_of(SITE, 50)[0], abs=1e-6)
    assert proof["exif"]["make"] == "Tecno"
    assert proof["exif"]["time_source"] == "gps"
    assert (await milestone(client, cast, escrow))["status"] == "released"
    assert await available(client, cast.platform, cast.beneficiary.wallet_id) == before + AMOUNT
    assert await scalar(sessions, RELEASES) == 1
    assert (await events_of(sessions, proof["id"])) == ["proof.submitted", "proof.approved"]
    assert "escrow.milestone_released" in await events_of(sessions, escrow["id"])
    stored = Path(settings.proof_files_dir) / proof["sha256"][:2] / proof["sha256"]
    assert stored.read_bytes() == photo


async def test_on_the_edge_of_the_geofence_is_inside(client: httpx.AsyncClient, cast: Cast) -> None:
    escrow = await delivered(client, cast, geofenced())
    photo = jpeg(at=north_of(SITE, RADIUS_M - 0.3), taken=now() - timedelta(minutes=1))
    response = await send(client, escrow, cast.beneficiary.headers, ("edge.jpg", photo))
    assert response.status_code == 201, response.text
    [proof] = response.json()["data"]
    assert proof["distance_m"] == pytest.approx(RADIUS_M - 0.3, abs=0.2)
    assert (proof["status"], proof["released"]) == ("approved", True)


@pytest.mark.parametrize(
    ("photo", "reasons", "failed"),
    [
        pytest.param(
            lambda: jpeg(at=north_of(SITE, RADIUS_M + 0.5), taken=now()), ["outside_geofence"], "geofence", id="outside"
        ),
        pytest.param(
            lambda: jpeg(at=north_of(SITE, 5_000), taken=now()), ["outside_geofence"], "geofence", id="far outside"
        ),
        pytest.param(lambda: jpeg(taken=now()), ["no_gps"], "geofence", id="no GPS"),
        pytest.param(
            lambda: jpeg(at=SITE, taken=now() - timedelta(hours=2)), ["photo_too_old"], "photo_time", id="too old"
        ),
        pytest.param(lambda: jpeg(at=SITE), ["no_photo_time"], "photo_time", id="no time"),
        pytest.param(
            lambda: jpeg(at=SITE, taken=now() + timedelta(hours=1)), ["photo_in_future"], "photo_time", id="future"
        ),
    ],
)
async def test_a_failed_check_leaves_the_proof_for_an_operator_and_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, photo: Any, reasons: list[str], failed: str
) -> None:
    escrow = await delivered(client, cast, geofenced())
    before = await snapshot(sessions)
    response = await send(client, escrow, cast.beneficiary.headers, ("photo.jpg", photo()))
    assert response.status_code == 201, response.text
    [proof] = response.json()["data"]
    assert (proof["status"], proof["released"], proof["reasons"]) == ("pending_review", False, reasons)
    assert [c["check"] for c in proof["checks"] if not c["passed"]] == [failed]
    assert await snapshot(sessions) == before
    assert await scalar(sessions, RELEASES) == 0
    assert (await milestone(client, cast, escrow))["status"] == "delivered"
    assert await events_of(sessions, proof["id"]) == ["proof.submitted"]


async def test_a_png_named_jpg_is_read_as_a_png(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    escrow = await delivered(client, cast, geofenced())
    response = await send(client, escrow, cast.beneficiary.headers, ("photo.jpg", png()))
    assert response.status_code == 201, response.text
    [proof] = response.json()["data"]
    assert (proof["content_type"], proof["filename"]) == ("image/png", "photo.jpg")
    assert (proof["status"], proof["reasons"]) == ("pending_review", ["no_gps", "no_photo_time"])
    assert await scalar(sessions, RELEASES) == 0


async def test_a_heic_photo_is_read_and_checked_as_a_jpeg_is(client: httpx.AsyncClient, cast: Cast) -> None:
    escrow = await delivered(client, cast, geofenced())
    photo = heic(at=north_of(SITE, 30), taken=now() - timedelta(minutes=5))
    response = await send(client, escrow, cast.beneficiary.headers, ("IMG_0001.HEIC", photo))
    assert response.status_code == 201, response.text
    [proof] = response.json()["data"]
    assert (proof["content_type"], proof["status"], proof["released"]) == ("image/heic", "approved", True)
    assert proof["distance_m"] == pytest.approx(30, abs=0.5)
    downloaded = await client.get(f"/v1/proofs/{proof['id']}/file", headers=cast.client.headers)
    assert (downloaded.content, downloaded.headers["content-type"]) == (photo, "image/heic")


async def test_without_a_rule_every_proof_waits_for_an_operator(client: httpx.AsyncClient, cast: Cast) -> None:
    escrow = await delivered(client, cast, None)
    response = await send(client, escrow, cast.platform, ("a.jpg", jpeg(at=SITE, taken=now())))
    assert response.status_code == 201, response.text
    [proof] = response.json()["data"]
    assert (proof["status"], proof["reasons"]) == ("pending_review", ["auto_approve_off"])
    assert [c["check"] for c in proof["checks"]] == ["image", "unique"]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        pytest.param(lambda: jpeg(at=SITE, taken=now())[:-400], 422, "proof_not_an_image", id="truncated"),
        pytest.param(lambda: b"%PDF-1.4 not a photo", 422, "proof_not_an_image", id="not an image"),
        pytest.param(lambda: b"", 422, "proof_not_an_image", id="empty"),
        pytest.param(lambda: bomb(4_000), 422, "proof_image_too_large", id="over PROOF_MAX_PIXELS"),
        pytest.param(lambda: bomb(20_000), 422, "proof_image_too_large", id="decompression bomb"),
    ],
)
async def test_a_file_that_is_no_usable_image_is_refused_and_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, settings: Settings, data: Any, status: int, code: str
) -> None:
    escrow = await delivered(client, cast, geofenced())
    before, rows = await snapshot(sessions), await rows_beside_answers(sessions)
    response = await send(client, escrow, cast.beneficiary.headers, ("photo.jpg", data()))
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert await snapshot(sessions) == before
    assert await rows_beside_answers(sessions) == rows
    assert not await asyncio.to_thread(settings.proof_files_dir.exists)


async def test_the_same_photo_twice_is_refused_naming_the_milestone_that_used_it(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    first = await delivered(client, cast, geofenced(auto_approve=False))
    second = await delivered(client, cast, geofenced())
    photo = jpeg(at=SITE, taken=now())
    used = await send(client, first, cast.beneficiary.headers, ("site.jpg", photo))
    assert used.status_code == 201, used.text
    before, rows = await snapshot(sessions), await rows_beside_answers(sessions)
    for escrow in (first, second):
        response = await send(client, escrow, cast.platform, ("again.jpg", photo))
        assert (response.status_code, response.json()["code"]) == (409, "proof_duplicate"), response.text
        assert f"milestone 1 of escrow {first['id']}" in response.json()["detail"]
        assert response.json()["proof_id"] == used.json()["data"][0]["id"]
    twice = await send(client, second, cast.platform, ("a.jpg", photo), ("b.jpg", photo))
    assert (twice.status_code, twice.json()["code"]) == (409, "proof_duplicate")
    assert await snapshot(sessions) == before
    assert await rows_beside_answers(sessions) == rows
    assert await scalar(sessions, "SELECT count(*) FROM proofs") == 1


async def test_only_the_beneficiary_or_the_platform_sends_proofs_of_a_delivered_milestone(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await delivered(client, cast, geofenced())
    before, rows = await snapshot(sessions), await rows_beside_answers(sessions)
    photo = jpeg(at=SITE, taken=now())
    for headers, status, code in (
        (cast.client.headers, 403, "escrow_action_not_allowed"),
        (cast.other.headers, 403, "not_owned_by_party"),
    ):
        response = await send(client, escrow, headers, ("site.jpg", photo))
        assert (response.status_code, response.json()["code"]) == (status, code), response.text
    pending = await funded(client, cast, AMOUNT)
    rows = await rows_beside_answers(sessions)
    before = await snapshot(sessions)
    response = await send(client, pending, cast.beneficiary.headers, ("site.jpg", photo))
    assert (response.status_code, response.json()["code"]) == (409, "milestone_state_conflict")
    keyless = await send(client, escrow, cast.beneficiary.headers, ("site.jpg", photo), extensions=NO_KEY)
    assert (keyless.status_code, keyless.json()["code"]) == (428, "idempotency_key_required")
    assert await snapshot(sessions) == before
    assert await rows_beside_answers(sessions) == rows


async def test_a_file_over_the_size_limit_is_refused(client: httpx.AsyncClient, cast: Cast, settings: Settings) -> None:
    escrow = await delivered(client, cast, geofenced())
    big = jpeg(at=SITE, taken=now()) + b"\0" * settings.PROOF_MAX_FILE_BYTES
    response = await send(client, escrow, cast.beneficiary.headers, ("big.jpg", big))
    assert (response.status_code, response.json()["code"]) == (413, "proof_file_too_large"), response.text
    many = [(f"{n}.jpg", jpeg(at=SITE, taken=now())) for n in range(settings.PROOF_MAX_FILES + 1)]
    response = await send(client, escrow, cast.beneficiary.headers, *many)
    assert (response.status_code, response.json()["code"]) == (422, "proof_files_invalid"), response.text


async def test_files_are_downloaded_by_the_parties_the_platform_and_operators_only(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    from sika.auth.scopes import Scope
    from tests.conftest import make_key

    escrow = await delivered(client, cast, geofenced(auto_approve=False))
    photo = jpeg(at=SITE, taken=now())
    [proof] = (await send(client, escrow, cast.beneficiary.headers, ("site.jpg", photo))).json()["data"]
    path = f"/v1/proofs/{proof['id']}/file"
    for headers in (cast.client.headers, cast.beneficiary.headers, cast.platform, cast.support, cast.admin):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert (response.content, response.headers["content-type"]) == (photo, "image/jpeg")
    reader = {"Authorization": f"Bearer {await make_key(sessions, Scope.read)}"}
    assert (await client.get(path, headers=cast.other.headers)).status_code == 403
    assert (await client.get(path, headers=reader)).status_code == 403
    shown = (await client.get(f"/v1/proofs/{proof['id']}", headers=reader)).json()
    assert (shown["location"], shown["exif"], shown["distance_m"]) == (None, None, 0.0)
    listed = await client.get(f"/v1/escrows/{escrow['id']}/milestones/1/proofs", headers=cast.client.headers)
    assert [p["id"] for p in listed.json()["data"]] == [proof["id"]]
    assert listed.json()["data"][0]["location"] is not None
