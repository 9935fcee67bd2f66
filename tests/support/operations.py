"""The API's operations as its OpenAPI document describes them, for tests that
send something to every route: each operation's path, query and body
parameters, ids of real things to fill its path with, and bodies holding one
bad string in each place a string may go (nested objects, every alternative
of a union, the keys and values of free-form objects such as ``metadata``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.core import db
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from tests.support.factories import funded_wallet, party_with_wallet
from tests.support.proofs import sent_proof

Schema = dict[str, Any]
Location = tuple[str | int, ...]

COUNTED_TABLES = (
    "alerts",
    "audit_events",
    "auth_api_keys",
    "escrow_collections",
    "escrow_milestones",
    "escrows",
    "events",
    "idempotency_keys",
    "instalment_payments",
    "instalment_plans",
    "instalment_reductions",
    "instalments",
    "ledger_accounts",
    "ledger_pending_timeouts",
    "ledger_transfers",
    "mandate_merchants",
    "mandate_payees",
    "mandate_purchases",
    "mandate_spend_categories",
    "mandate_spends",
    "mandates",
    "parties",
    "payments_collections",
    "payments_payouts",
    "platforms",
    "wallet_holds",
    "wallet_open_holds",
    "wallets",
    "webhooks_inbound_events",
    "procrastinate_jobs",
    "transfers",
    "p2p_allowlist",
    "p2p_certifications",
    "p2p_usage",
    "p2p_movements",
    "proof_rules",
    "proofs",
    "outbound_endpoints",
    "outbound_deliveries",
    "promo_codes",
    "promo_redemptions",
)
"""Every table a request can write to, jobs included."""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    """The path template, ``/v1/wallets/{wallet_id}``."""
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body: Schema | None
    """The JSON body's schema, if the operation takes one."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations(app: FastAPI) -> list[Operation]:
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            parameters = operation.get("parameters", [])
            content = operation.get("requestBody", {}).get("content", {})
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    path_params=tuple(p["name"] for p in parameters if p["in"] == "path"),
                    query_params=tuple(p["name"] for p in parameters if p["in"] == "query"),
                    body=content["application/json"]["schema"] if "application/json" in content else None,
                )
            )
    return found


def url(operation: Operation, ids: dict[str, str], **replaced: str) -> str:
    """The operation's path with its parameters filled from ``ids``, or ``replaced``, percent-encoded."""
    values = {**ids, **replaced}
    return operation.path.format(**{name: quote(values[name], safe="") for name in operation.path_params})


class Bodies:
    """Example bodies of an OpenAPI document's schemas; a field named in ``known``
    (``wallet_id``) holds that value, so the body names real things (or passes
    validation: ``currency`` ``XOF``)."""

    def __init__(self, app: FastAPI, known: dict[str, Any] | None = None) -> None:
        self.components: dict[str, Schema] = app.openapi().get("components", {}).get("schemas", {})
        self.known = known or {}

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    @staticmethod
    def alternatives(schema: Schema) -> list[Schema]:
        """The alternatives of a union (``anyOf`` or ``oneOf``) but null; none for any other schema."""
        union: list[Schema] = schema["anyOf"] if "anyOf" in schema else schema.get("oneOf", [])
        return [alternative for alternative in union if alternative.get("type") != "null"]

    def example(self, schema: Schema) -> Any:
        """A plausible value: the first alternative, enum member or example; otherwise the simplest."""
        schema = self.resolve(schema)
        alternatives = self.alternatives(schema)
        if alternatives:
            return self.example(alternatives[0])
        for key in ("const", "default"):
            if schema.get(key) is not None:
                return schema[key]
        if schema.get("enum"):
            return schema["enum"][0]
        if schema.get("examples"):
            return schema["examples"][0]
        kind = schema.get("type", "object")
        if kind == "object":
            properties = schema.get("properties", {}).items()
            return {name: self.known[name] if name in self.known else self.example(sub) for name, sub in properties}
        simple = {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": [], "null": None}
        return "2030-01-01T00:00:00Z" if schema.get("format") == "date-time" else simple[kind]

    def with_bad_text(self, schema: Schema, bad: str, location: Location = ("body",)) -> Iterator[tuple[Location, Any]]:
        """For each place a body of ``schema`` may hold a string: an example body with
        ``bad`` inside the string there, and where (as pydantic locates it; a key as
        ``….<key>.[key]``, with the bad character shown as U+FFFD)."""
        schema = self.resolve(schema)
        alternatives = self.alternatives(schema)
        if alternatives:
            for alternative in alternatives:
                yield from self.with_bad_text(alternative, bad, location)
            return
        kind = schema.get("type", "object")
        text = f"x{bad}y"
        if kind == "string":
            yield location, text
        elif kind == "array":
            for inner, value in self.with_bad_text(schema.get("items", {"type": "string"}), bad, (*location, 0)):
                yield inner, [value]
        elif kind == "object":
            base = self.example(schema)
            for name, sub in schema.get("properties", {}).items():
                for inner, value in self.with_bad_text(sub, bad, (*location, name)):
                    yield inner, {**base, name: value}
            free = schema.get("additionalProperties")
            if free is not None and free is not False:
                yield (*location, "k\ufffd", "[key]"), {**base, f"k{bad}": "v"}
                values = free if isinstance(free, dict) and free else None
                if values is not None:
                    for inner, value in self.with_bad_text(values, bad, (*location, "k")):
                        yield inner, {**base, "k": value}
                else:  # any JSON at all: a string, and strings nested in objects and lists
                    yield (*location, "k"), {**base, "k": text}
                    yield (*location, "k", "deep", 1), {**base, "k": {"deep": ["fine", text]}}


async def real_ids(
    client: httpx.AsyncClient, admin: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    """An id of a real thing for each path parameter of the API: a party with a funded
    wallet and a hold on it, ledger accounts with a pending transfer, an API key, an
    alert, an escrow (and its milestone 1, delivered, with a proof), a merchant and a mandate, a transfer
    between parties and an allowlist entry, a webhook endpoint. Collections, payouts and webhook events need a
    provider, a delivery an event; theirs name nothing."""

    async def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=admin)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    funded = await funded_wallet(client, admin, admin, 5_000)
    hold = await made(f"/v1/wallets/{funded.wallet_id}/holds", {"amount_minor": 1_000, "reason": "order 1"})
    source = await made("/v1/ledger/accounts", {"currency": "XOF", "kind": "world"})
    target = await made("/v1/ledger/accounts", {"currency": "XOF", "kind": "escrow"})
    pending = await made(
        "/v1/ledger/transfers",
        {
            "debit_account_id": source["id"],
            "credit_account_id": target["id"],
            "amount_minor": 700,
            "currency": "XOF",
            "code": "escrow",
            "pending": True,
        },
    )
    key = await made("/v1/api-keys", {"name": "walked", "scopes": ["read"]})
    beneficiary = await party_with_wallet(client, admin, display_name="Walked beneficiary")
    milestone = {"title": "walked", "amount_minor": 1_000}
    escrow = await made(
        "/v1/escrows",
        {
            "client_party_id": funded.party_id,
            "beneficiary_party_id": beneficiary.party_id,
            "currency": "XOF",
            "amount_minor": 1_000,
            "milestones": [milestone],
        },
    )
    category = await made("/v1/spend-categories", {"code": "walked", "label_en": "Walked", "label_fr": "Parcourue"})
    merchant = await made("/v1/merchants", {"party_id": beneficiary.party_id, "category_id": category["id"]})
    mandate = await made(
        "/v1/mandates",
        {
            "sender_party_id": funded.party_id,
            "beneficiary_party_id": beneficiary.party_id,
            "currency": "XOF",
            "amount_minor": 1_000,
            "allowed_category_ids": [category["id"]],
            "expires_at": "2100-01-01T00:00:00Z",
        },
    )
    transfer = await made(
        "/v1/transfers",
        {"source_wallet_id": funded.wallet_id, "destination_wallet_id": beneficiary.wallet_id, "amount_minor": 500},
    )
    await made(f"/v1/parties/{funded.party_id}/allowlist", {"recipient_party_id": beneficiary.party_id})
    for step in ("fund", "milestones/1/deliver"):
        response = await client.post(f"/v1/escrows/{escrow['id']}/{step}", json={}, headers=admin)
        assert response.status_code == 200, response.text
    proof_id = await sent_proof(client, admin, escrow["id"])
    endpoint = await made("/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/walked"})
    plan = await made(
        "/v1/instalment-plans",
        {
            "payer_party_id": funded.party_id,
            "payee_party_id": beneficiary.party_id,
            "currency": "XOF",
            "total_minor": 1_000,
            "instalments": [{"due_on": "2100-01-01", "amount_minor": 1_000}],
        },
    )
    promo = await made("/v1/promo-codes", {"code": "WALKED", "percent_off_bps": 1_000})
    async with db.transaction(sessions) as session:
        alert = await alerts_service.raise_alert(
            session, kind="test.walk", message="An alert to acknowledge.", platform_id=None
        )
    return {
        "party_id": funded.party_id,
        "wallet_id": funded.wallet_id,
        "hold_id": hold["id"],
        "account_id": target["id"],
        "transfer_id": pending["id"],
        "key_id": key["id"],
        "alert_id": alert.id,
        "escrow_id": escrow["id"],
        "party_transfer_id": transfer["id"],
        "recipient_party_id": beneficiary.party_id,
        "number": "1",
        "mandate_id": mandate["id"],
        "merchant_id": merchant["id"],
        "platform_id": DEFAULT_PLATFORM_ID,
        "collection_id": "col_none",
        "payout_id": "pay_none",
        "event_id": "whe_none",
        "provider": "paystack",
        "proof_id": proof_id,
        "endpoint_id": endpoint["id"],
        "delivery_id": "whd_none",
        "plan_id": plan["id"],
        "instalment_id": plan["instalments"][0]["id"],
        "promo_code_id": promo["id"],
    }


async def row_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Rows of every table a request writes to: a refused request changes none."""
    async with sessions() as session:
        return {
            table: int(await session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608
            for table in COUNTED_TABLES
        }


async def rows_beside_answers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """``row_counts`` but for the idempotency store: a refused money request's answer is
    kept under its Idempotency-Key (a retry gets it again), and nothing else is written."""
    counts = await row_counts(sessions)
    del counts["idempotency_keys"]
    return counts
