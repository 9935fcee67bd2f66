"""A request field the document offers as nullable takes null, and one it does
not is refused with null: for every PATCH, each field sent alone as null gets
a success exactly when the document's schema admits null (``email`` and
``phone`` of a party clear that way; a name, a type or a platform's settings
cannot be null, and were documented as if they could; nor can a webhook
endpoint's URL or event types). A refusal changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.factories import create_party

Schema = dict[str, Any]


def _admits_null(schema: Schema) -> bool:
    return schema.get("type") == "null" or any(_admits_null(branch) for branch in schema.get("anyOf", []))


def _body_schema(document: dict[str, Any], operation: dict[str, Any]) -> Schema:
    schema: Schema = operation["requestBody"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    found: Schema = document["components"]["schemas"][name]
    return found


async def test_a_patch_field_takes_null_exactly_when_documented_nullable(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    party = await create_party(client, admin_headers)
    endpoint = await client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/nulls"}, headers=admin_headers
    )
    assert endpoint.status_code == 201, endpoint.text
    objects = {"party_id": party["id"], "platform_id": party["platform_id"], "endpoint_id": endpoint.json()["id"]}
    document = app.openapi()
    checked = 0
    for path, item in document["paths"].items():
        if "patch" not in item:
            continue
        url = path.format(**objects)
        for field, schema in _body_schema(document, item["patch"])["properties"].items():
            before = (await client.get(url, headers=admin_headers)).json()
            answer = await client.patch(url, json={field: None}, headers=admin_headers)
            if _admits_null(schema):
                assert answer.status_code == 200, f"{path} {field}: {answer.text}"
            else:
                assert answer.status_code == 422, f"{path} {field}: documented as not nullable"
                assert (await client.get(url, headers=admin_headers)).json() == before
            checked += 1
    assert checked >= 10
