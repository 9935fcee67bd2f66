"""Every problem code a caller can get has a French message."""

from __future__ import annotations

import importlib
import pkgutil

import httpx

import sika
from sika.api.messages_fr import DETAILS_FR
from sika.core import errors

# Codes made by the HTTP layer itself rather than by a domain error class.
HTTP_LAYER_CODES = {"malformed_json", "method_not_allowed", "internal_error", "http_error"}


def _all_error_codes() -> set[str]:
    for module in pkgutil.walk_packages(sika.__path__, "sika."):
        if module.name.endswith("__main__") or ".migrations" in module.name:
            continue
        importlib.import_module(module.name)
    codes: set[str] = set()
    pending: list[type[errors.SikaError]] = [errors.SikaError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def test_every_domain_error_code_has_a_french_message() -> None:
    codes = _all_error_codes()
    assert len(codes) > 50
    assert sorted(codes - DETAILS_FR.keys()) == []


def test_no_french_message_for_a_code_that_does_not_exist() -> None:
    assert sorted(DETAILS_FR.keys() - _all_error_codes() - HTTP_LAYER_CODES) == []


async def test_french_caller_gets_french_detail_and_the_english_specifics(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/api-keys", headers={"accept-language": "fr-CI,fr;q=0.9,en;q=0.5"})
    body = response.json()
    assert body["title"] == "Non authentifié"
    assert body["detail"] == DETAILS_FR["not_authenticated"]
    assert body["detail_en"] == "Send an API key or a party token as 'Authorization: Bearer <credentials>'."


async def test_english_caller_gets_no_french(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/api-keys", headers={"accept-language": "en-GB,fr;q=0.8"})).json()
    assert body["title"] == "Not authenticated"
    assert "detail_en" not in body
