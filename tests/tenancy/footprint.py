"""What a platform's refused callers must leave as it was: every row the other
platform owns, to the byte, and every table's row count."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

OWNED_TABLES = (
    "alerts",
    "audit_events",
    "auth_api_keys",
    "escrow_collections",
    "escrow_milestones",
    "escrows",
    "events",
    "ledger_accounts",
    "mandate_merchants",
    "mandate_payees",
    "mandate_purchases",
    "mandate_spend_categories",
    "mandate_spends",
    "mandates",
    "parties",
    "payments_collections",
    "payments_payouts",
    "wallet_holds",
    "wallets",
    "webhooks_inbound_events",
)
"""Every table whose rows carry ``platform_id``."""

MAY_GROW = frozenset({"audit_events", "idempotency_keys"})
"""What a caller's calls may add besides what they create: the stored answer of
each Idempotency-Key it sent (a refusal's included), and the audit row of each
thing it made (``since`` tells which rows, and whose)."""


@dataclass(frozen=True)
class Marks:
    """The newest idempotency and audit rows at one moment."""

    idempotency: int
    audit: int


@dataclass(frozen=True)
class Since:
    audited: list[tuple[str | None, str]]
    """(platform, entity id) of each audit row written since the marks."""
    stored: int
    """Idempotency rows stored since the marks."""
    stored_for_others: int
    """Of those, the ones whose owner is not a key or a party of the platform asked about."""


async def marks(sessions: async_sessionmaker[AsyncSession]) -> Marks:
    async with sessions() as session:
        idempotency = await session.scalar(sa.text("SELECT coalesce(max(id), 0) FROM idempotency_keys"))
        audit = await session.scalar(sa.text("SELECT coalesce(max(seq), 0) FROM audit_events"))
    return Marks(idempotency=int(idempotency or 0), audit=int(audit or 0))


async def since(sessions: async_sessionmaker[AsyncSession], mark: Marks, platform_id: str) -> Since:
    """What was audited and stored after ``mark``, and how much of the stored is not ``platform_id``'s callers'."""
    async with sessions() as session:
        audited = await session.execute(
            sa.text("SELECT platform_id, entity_id FROM audit_events WHERE seq > :seq ORDER BY seq"),
            {"seq": mark.audit},
        )
        stored = await session.scalar(
            sa.text("SELECT count(*) FROM idempotency_keys WHERE id > :id"), {"id": mark.idempotency}
        )
        others = await session.scalar(
            sa.text(
                "SELECT count(*) FROM idempotency_keys i WHERE i.id > :id AND NOT EXISTS ("
                " SELECT 1 FROM auth_api_keys k WHERE i.owner = 'key:' || k.id AND k.platform_id = :platform_id"
                " UNION ALL"
                " SELECT 1 FROM parties p WHERE i.owner = 'party:' || p.id AND p.platform_id = :platform_id)"
            ),
            {"id": mark.idempotency, "platform_id": platform_id},
        )
    return Since(
        audited=[(row[0], row[1]) for row in audited], stored=int(stored or 0), stored_for_others=int(others or 0)
    )


async def owned_rows(sessions: async_sessionmaker[AsyncSession], platform_id: str) -> dict[str, str]:
    """A digest of every row ``platform_id`` owns, per table (and of the platform itself):
    any change to any column of any of them changes it."""
    digests = {}
    async with sessions() as session:
        for table in (*OWNED_TABLES, "platforms"):
            column = "id" if table == "platforms" else "platform_id"
            digest = await session.scalar(
                sa.text(
                    f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"  # noqa: S608
                    f" WHERE {column} = :platform_id"
                ),
                {"platform_id": platform_id},
            )
            digests[table] = str(digest)
    return digests
