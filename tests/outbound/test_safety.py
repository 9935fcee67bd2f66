"""In production an endpoint is https to a public address: an http URL or one
that reaches loopback, a private network, link-local (the metadata service) or
shared space is refused when registered, and again when a delivery is about to
go (the name may point elsewhere by then); a refusal writes nothing."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from sika.core import clock, db
from sika.core.config import Environment, Settings
from sika.outbound import schemas
from sika.outbound import service as outbound_service
from tests.conftest import TEST_ACTOR
from tests.outbound.conftest import Headers, Sessions, emit, pump_until, register, scalar
from tests.support.receiver import receiving

REFUSED = [
    "http://hooks.example.com/sika",
    "https://127.0.0.1/hooks",
    "https://localhost/hooks",
    "https://10.1.2.3/hooks",
    "https://192.168.0.10:8443/hooks",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hooks",
    "https://[::1]/hooks",
    "https://[fd00::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks",
    "https://user:pass@93.184.215.14/hooks",
    "ftp://93.184.215.14/hooks",
]
WRITTEN = (
    "SELECT (SELECT count(*) FROM outbound_endpoints) + (SELECT count(*) FROM audit_events)"
    " + (SELECT count(*) FROM events)"
)


def production(settings: Settings) -> Settings:
    return settings.model_copy(update={"ENV": Environment.production})


@pytest.mark.parametrize("url", REFUSED)
async def test_production_refuses_an_endpoint_that_is_not_https_to_a_public_address(
    url: str, sessions: Sessions, settings: Settings
) -> None:
    before = await scalar(sessions, WRITTEN)
    with pytest.raises(outbound_service.EndpointUrlRefused):
        async with db.transaction(sessions) as session:
            await outbound_service.create_endpoint(
                session,
                body=schemas.EndpointCreate(url=url),
                settings=production(settings),
                actor=TEST_ACTOR,
                now=clock.now(),
            )
    assert await scalar(sessions, WRITTEN) == before


async def test_production_takes_a_public_https_endpoint(sessions: Sessions, settings: Settings, app: object) -> None:
    """``app`` installs the jobs app: registering an endpoint queues the delivery pump."""
    async with db.transaction(sessions) as session:
        endpoint, secret = await outbound_service.create_endpoint(
            session,
            body=schemas.EndpointCreate(url="https://93.184.215.14/hooks"),
            settings=production(settings),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    assert endpoint.id.startswith("we_")
    assert secret.startswith("whsec_")


async def test_a_refused_address_is_refused_over_the_api_too(
    client: httpx.AsyncClient, platform_headers: Headers, sessions: Sessions
) -> None:
    before = await scalar(sessions, WRITTEN)
    response = await client.post("/v1/webhook-endpoints", json={"url": "gopher://127.0.0.1/"}, headers=platform_headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "webhook_endpoint_url_refused"
    assert await scalar(sessions, WRITTEN) == before


async def test_at_delivery_time_a_private_address_gets_nothing(
    client: httpx.AsyncClient,
    platform_headers: Headers,
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
) -> None:
    """Registered where that was allowed, the endpoint now resolves to loopback in production."""
    with receiving() as receiver:
        endpoint = await register(client, platform_headers, receiver.url)
        await emit(sessions, "po_guarded")

        async def attempted() -> bool:
            return bool(await scalar(sessions, "SELECT count(*) FROM outbound_deliveries WHERE attempts > 0"))

        await pump_until(sessions, production(settings), sender, attempted)
    assert receiver.received == []
    async with sessions() as session:
        row = (
            await session.execute(
                sa.text("SELECT status, last_status_code, last_error FROM outbound_deliveries WHERE endpoint_id = :id"),
                {"id": endpoint["id"]},
            )
        ).one()
    assert (row.status, row.last_status_code) == ("pending", None)
    assert "address refused" in row.last_error


@pytest.mark.parametrize("url", ["http://[::1/hooks", "http://127.0.0.1:99999/hooks", "http://h:port/x", "https:///x"])
async def test_a_url_that_does_not_parse_is_refused_not_a_crash(
    url: str, client: httpx.AsyncClient, platform_headers: Headers, sessions: Sessions
) -> None:
    before = await scalar(sessions, WRITTEN)
    response = await client.post("/v1/webhook-endpoints", json={"url": url}, headers=platform_headers)
    assert response.status_code == 422, response.text
    assert await scalar(sessions, WRITTEN) == before
