"""Typed queries on the ledger tables, and the one call that moves money
(``apply_transfers``, the database function ``ledger_apply_transfers``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.ledger.models import Account, Transfer

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class TransferRequest:
    """One transfer to apply, as the database function takes it.

    For a resolution (``post_pending``, ``void_pending``, ``expire_pending``)
    the accounts and currency come from the pending transfer and may be left
    ``None``; a ``None`` amount posts or releases the whole pending amount."""

    id: str
    kind: str
    debit_account_id: str | None
    credit_account_id: str | None
    amount_minor: int | None
    currency: str | None
    code: str | None
    pending_id: str | None
    timeout_seconds: int | None
    metadata: dict[str, Any] | None
    journal_id: str | None
    actor_id: str
    request_id: str | None


@dataclass(frozen=True)
class AppliedRow:
    """What the database function answered for one transfer."""

    error_code: str | None
    error_detail: str | None
    replayed: bool
    id: str
    kind: str
    debit_account_id: str | None
    credit_account_id: str | None
    amount_minor: int | None
    currency: str | None
    code: str | None
    pending_id: str | None
    timeout_seconds: int | None
    expires_at: datetime | None
    journal_id: str | None
    metadata: dict[str, Any]
    created_at: datetime


_APPLY_ARGUMENTS = (
    ("ids", "text[]"),
    ("kinds", "text[]"),
    ("debit", "text[]"),
    ("credit", "text[]"),
    ("amount", "bigint[]"),
    ("currency", "text[]"),
    ("code", "text[]"),
    ("pending", "text[]"),
    ("timeout", "integer[]"),
    ("metadata", "jsonb[]"),
    ("journal", "text[]"),
    ("actor", "text[]"),
    ("request", "text[]"),
    ("now", "timestamptz"),
    ("atomic", "boolean"),
    ("lock_retries", "integer"),
)


def _apply_sql(placeholder: str) -> str:
    # Built from constants only: no caller-supplied text reaches the statement.
    arguments = ", ".join(
        f"CAST({placeholder.format(name)} AS {type_})" for name, type_ in _APPLY_ARGUMENTS
    )
    return (
        "SELECT r_error, r_detail, r_replayed, r_id, r_kind, r_debit, r_credit, r_amount,"  # noqa: S608
        " r_currency, r_code, r_pending, r_timeout, r_expires_at, r_journal, r_metadata,"
        f" r_created_at FROM ledger_apply_transfers({arguments}) ORDER BY r_idx"
    )


APPLY_SQL = _apply_sql("%({})s")
"""The call in psycopg's parameter style, for the grouped path's own connections."""

_APPLY_TEXT = sa.text(_apply_sql(":{}"))


IN_TRANSACTION_LOCK_RETRIES = 5
"""Deadlock retries inside the function when a caller's transaction holds other locks."""


def apply_parameters(
    requests: Sequence[TransferRequest], *, now: datetime, atomic: bool, lock_retries: int
) -> dict[str, Any]:
    return {
        "ids": [r.id for r in requests],
        "kinds": [r.kind for r in requests],
        "debit": [r.debit_account_id for r in requests],
        "credit": [r.credit_account_id for r in requests],
        "amount": [r.amount_minor for r in requests],
        "currency": [r.currency for r in requests],
        "code": [r.code for r in requests],
        "pending": [r.pending_id for r in requests],
        "timeout": [r.timeout_seconds for r in requests],
        "metadata": [json.dumps(r.metadata) if r.metadata is not None else None for r in requests],
        "journal": [r.journal_id for r in requests],
        "actor": [r.actor_id for r in requests],
        "request": [r.request_id for r in requests],
        "now": now,
        "atomic": atomic,
        "lock_retries": lock_retries,
    }


def applied_rows(rows: Sequence[Sequence[Any]]) -> list[AppliedRow]:
    return [AppliedRow(*row) for row in rows]


async def apply_transfers(
    session: AsyncSession, requests: Sequence[TransferRequest], *, now: datetime, atomic: bool
) -> list[AppliedRow]:
    """Apply ``requests`` in the session's transaction; one answer per request, in order."""
    result = await session.execute(
        _APPLY_TEXT,
        apply_parameters(
            requests, now=now, atomic=atomic, lock_retries=IN_TRANSACTION_LOCK_RETRIES
        ),
    )
    return applied_rows([tuple(row) for row in result.all()])


async def get_account(session: AsyncSession, account_id: str) -> Account | None:
    return await session.get(Account, account_id, populate_existing=True)


async def get_account_for_update(session: AsyncSession, account_id: str) -> Account | None:
    """The account, locked against concurrent transfers until the transaction ends.

    Take several locks in ascending id order, as the ledger does."""
    return await session.get(
        Account, account_id, with_for_update={"key_share": True}, populate_existing=True
    )


async def list_accounts(
    session: AsyncSession,
    *,
    owner_type: str | None,
    owner_id: str | None,
    currency: str | None,
    kind: str | None,
    after_seq: int | None,
    limit: int,
) -> Sequence[Account]:
    """Oldest first; ``after_seq`` is the last ``seq`` seen."""
    query = sa.select(Account).order_by(Account.seq).limit(min(limit, MAX_PAGE_SIZE))
    if owner_type is not None:
        query = query.where(Account.owner_type == owner_type)
    if owner_id is not None:
        query = query.where(Account.owner_id == owner_id)
    if currency is not None:
        query = query.where(Account.currency == currency)
    if kind is not None:
        query = query.where(Account.kind == kind)
    if after_seq is not None:
        query = query.where(Account.seq > after_seq)
    return (await session.scalars(query)).all()


async def get_transfer(session: AsyncSession, transfer_id: str) -> Transfer | None:
    return await session.get(Transfer, transfer_id)


async def resolution_of(session: AsyncSession, pending_id: str) -> Transfer | None:
    """The transfer that posted, voided or expired ``pending_id``, if any."""
    result = await session.scalars(sa.select(Transfer).where(Transfer.pending_id == pending_id))
    return result.one_or_none()


async def list_account_transfers(
    session: AsyncSession,
    *,
    account_id: str,
    side: str | None,
    kind: str | None,
    code: str | None,
    since: datetime | None,
    until: datetime | None,
    before_seq: int | None,
    limit: int,
) -> Sequence[Transfer]:
    """Newest first; ``side`` is ``debit``, ``credit`` or ``None`` for both;
    ``before_seq`` is the last ``seq`` seen.

    Each side is read through its own (account, seq) index and the two are
    merged, so a page costs ``limit`` index entries per side however long the
    account's history is."""
    page = min(limit, MAX_PAGE_SIZE)

    def one_side(column: Any) -> sa.Select[Transfer]:
        query = (
            sa.select(Transfer)
            .where(column == account_id)
            .order_by(Transfer.seq.desc())
            .limit(page)
        )
        if kind is not None:
            query = query.where(Transfer.kind == kind)
        if code is not None:
            query = query.where(Transfer.code == code)
        if since is not None:
            query = query.where(Transfer.created_at >= since)
        if until is not None:
            query = query.where(Transfer.created_at < until)
        if before_seq is not None:
            query = query.where(Transfer.seq < before_seq)
        return query

    if side == "debit":
        return (await session.scalars(one_side(Transfer.debit_account_id))).all()
    if side == "credit":
        return (await session.scalars(one_side(Transfer.credit_account_id))).all()
    both = sa.union_all(
        one_side(Transfer.debit_account_id), one_side(Transfer.credit_account_id)
    ).subquery()
    merged = sa.select(Transfer).from_statement(
        sa.select(both).order_by(both.c.seq.desc()).limit(page)
    )
    return (await session.scalars(merged)).all()
