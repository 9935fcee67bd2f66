"""Messages a caller reads: scopes in words, no markup, and a JSON route
that says so when the body is not sent as JSON."""

from __future__ import annotations

import importlib
import pkgutil

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import sika
from sika.api.messages_fr import DETAILS_FR
from sika.auth.scopes import Scope
from sika.core import errors
from tests.conftest import make_key
from tests.support.ledger import snapshot

Sessions = async_sessionmaker[AsyncSession]


def _domain_errors() -> list[type[errors.SikaError]]:
    for module in pkgutil.walk_packages(sika.__path__, "sika."):
        if module.name.endswith("__main__") or ".migrations" in module.name:
            continue
        importlib.import_module(module.name)
    found: list[type[errors.SikaError]] = []
    pending: list[type[errors.SikaError]] = [errors.SikaError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_no_message_carries_markup() -> None:
    marked = [f"{cls.__module__}.{cls.__name__}" for cls in _domain_errors() if "`" in (cls.__doc__ or "")]
    marked += [code for code, text in DETAILS_FR.items() if "`" in text]
    assert marked == []


async def test_a_scope_refusal_names_the_scopes_in_words_admin_too(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    reader = {"Authorization": f"Bearer {await make_key(sessions, Scope.read)}"}
    response = await client.get("/v1/audit-events", headers=reader)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert response.json()["detail"] == "This route needs a support or admin key; this key has: read."
    platform = {"Authorization": f"Bearer {await make_key(sessions, Scope.platform)}"}
    response = await client.get("/v1/api-keys", headers=platform)
    assert response.json()["detail"] == "This route needs an admin key; this key has: platform."


async def test_a_json_route_refuses_a_body_without_a_json_content_type(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    body = b'{"display_name": "Awa", "type": "individual", "country": "SN"}'
    before = await snapshot(sessions)
    missing = await client.post("/v1/parties", content=body, headers=admin_headers)
    wrong = await client.post("/v1/parties", content=body, headers={**admin_headers, "Content-Type": "text/plain"})
    french = await client.post(
        "/v1/parties", content=body, headers={**admin_headers, "Content-Type": "text/plain", "Accept-Language": "fr"}
    )
    for response in (missing, wrong, french):
        assert response.status_code == 415, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unsupported_media_type"
    assert missing.json()["detail"] == "This route takes a JSON body: send it with Content-Type: application/json."
    assert french.json()["detail"] == DETAILS_FR["unsupported_media_type"]
    assert french.json()["title"] == "Type de contenu non pris en charge"
    assert await snapshot(sessions) == before
    assert (await client.get("/v1/parties", headers=admin_headers)).json()["data"] == []
    sent = await client.post("/v1/parties", content=body, headers={**admin_headers, "Content-Type": "application/json"})
    assert sent.status_code == 201, sent.text
