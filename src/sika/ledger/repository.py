"""Typed queries on the ledger tables, and the one call that moves money
(``apply_transfers``, the database function ``ledger_apply_transfers``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sika.core import db, tenancy
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
    id_generated: bool = False
    """The id was generated for this request, so no earlier transfer can have it."""
    refuse_managed: bool = False
    """Refuse the transfer if either account is managed by a domain service
    (the raw ledger API's transfers)."""


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
    ("check_existing", "boolean"),
    ("lock_retries", "integer"),
    ("refuse_managed", "boolean[]"),
)


def _apply_sql(*, one: bool) -> str:
    # Built from constants only: no caller-supplied text reaches the statement.
    arguments = ", ".join(
        f"ARRAY[CAST(%({name})b AS {type_[:-2]})]" if one and type_.endswith("[]") else f"CAST(%({name})b AS {type_})"
        for name, type_ in _APPLY_ARGUMENTS
    )
    return (
        "SELECT r_error, r_detail, r_replayed, r_id, r_kind, r_debit, r_credit, r_amount,"  # noqa: S608
        " r_currency, r_code, r_pending, r_timeout, r_expires_at, r_journal, r_metadata,"
        f" r_created_at FROM ledger_apply_transfers({arguments}) ORDER BY r_idx"
    )


APPLY_SQL = _apply_sql(one=False)
"""The call in psycopg's parameter style (binary parameters): on the grouped path's own
connections, and on a request's through ``db.execute_plain``."""
APPLY_ONE_SQL = _apply_sql(one=True)
"""The call for one transfer (``call``): each array is built in the statement from its one value,
where psycopg spent some 50 µs of CPU inspecting lists of one to dump them. The function reads an
array of one NULL as it reads a NULL array."""
_ARRAY_ARGUMENTS = tuple(name for name, type_ in _APPLY_ARGUMENTS if type_.endswith("[]"))

IN_TRANSACTION_LOCK_RETRIES = 5
"""Deadlock retries inside the function when a caller's transaction holds other locks."""


def encode_metadata(metadata: dict[str, Any] | None) -> str | None:
    """Metadata as the function takes it; raises ``TypeError`` or ``ValueError``
    on what is not JSON (NaN and Infinity included: jsonb refuses them)."""
    return json.dumps(metadata, allow_nan=False) if metadata is not None else None


def apply_parameters(
    requests: Sequence[TransferRequest],
    *,
    now: datetime,
    atomic: bool,
    lock_retries: int,
    check_existing: bool | None = None,
    encoded_metadata: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """The function's arguments. Existing ids are looked up unless every id
    was generated here (``id_generated``) and ``check_existing`` is not forced.
    ``encoded_metadata``: each request's ``encode_metadata``, if done already."""
    if check_existing is None:
        check_existing = not all(r.id_generated for r in requests)
    if encoded_metadata is None:
        encoded_metadata = [encode_metadata(r.metadata) for r in requests]
    return {
        "ids": [r.id for r in requests],
        "kinds": [r.kind for r in requests],
        "debit": _or_null([r.debit_account_id for r in requests]),
        "credit": _or_null([r.credit_account_id for r in requests]),
        "amount": _or_null([r.amount_minor for r in requests]),
        "currency": _or_null([r.currency for r in requests]),
        "code": _or_null([r.code for r in requests]),
        "pending": _or_null([r.pending_id for r in requests]),
        "timeout": _or_null([r.timeout_seconds for r in requests]),
        "metadata": _or_null(list(encoded_metadata)),
        "journal": _or_null([r.journal_id for r in requests]),
        "actor": [r.actor_id for r in requests],
        "request": _or_null([r.request_id for r in requests]),
        "now": now,
        "atomic": atomic,
        "check_existing": check_existing,
        "lock_retries": lock_retries,
        "refuse_managed": _or_null([True if r.refuse_managed else None for r in requests]),
    }


def call(parameters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The statement for ``apply_parameters``' result, and its parameters: for one
    transfer ``APPLY_ONE_SQL``, with each array's only value alone."""
    if len(parameters["ids"]) != 1:
        return APPLY_SQL, parameters
    one = {name: parameters[name] for name, _ in _APPLY_ARGUMENTS}
    for name in _ARRAY_ARGUMENTS:
        if one[name] is not None:
            one[name] = one[name][0]
    return APPLY_ONE_SQL, one


def _or_null(values: list[Any]) -> list[Any] | None:
    """A list of nothing but NULLs travels as one NULL: less to encode and parse."""
    return values if any(value is not None for value in values) else None


def applied_rows(rows: Sequence[Sequence[Any]]) -> list[AppliedRow]:
    return [AppliedRow(*row) for row in rows]


async def apply_transfers(
    session: AsyncSession, requests: Sequence[TransferRequest], *, now: datetime, atomic: bool
) -> list[AppliedRow]:
    """Apply ``requests`` in the session's transaction; one answer per request, in order."""
    statement, parameters = call(
        apply_parameters(requests, now=now, atomic=atomic, lock_retries=IN_TRANSACTION_LOCK_RETRIES)
    )
    cursor = await db.execute_plain(session, statement, parameters)
    return applied_rows(await cursor.fetchall())


async def get_account(session: AsyncSession, account_id: str, *, all_platforms: bool = False) -> Account | None:
    """The account; with ``all_platforms``, even one a bound session would not see
    (a system account a domain reaches on a platform's behalf)."""
    options = tenancy.ALL_PLATFORMS if all_platforms else {}
    return await session.get(Account, account_id, populate_existing=True, execution_options=options)


async def platforms_of_accounts(
    source: AsyncSession | AsyncEngine, account_ids: Sequence[str]
) -> dict[str, str | None]:
    """Each existing account's platform, whatever platform ``source`` is bound to."""
    query = sa.select(Account.id, Account.platform_id).where(Account.id.in_(account_ids))
    if isinstance(source, AsyncSession):
        rows = (await source.execute(query.execution_options(**tenancy.ALL_PLATFORMS))).all()
    else:
        async with source.connect() as connection:
            rows = (await connection.execute(query)).all()
    return {account_id: platform_id for account_id, platform_id in rows}


async def accounts_of_transfer(session: AsyncSession, transfer_id: str) -> tuple[str, str] | None:
    """The debit and credit accounts of a transfer, whatever platform the session is bound to."""
    row = (
        await session.execute(
            sa.select(Transfer.debit_account_id, Transfer.credit_account_id)
            .where(Transfer.id == transfer_id)
            .execution_options(**tenancy.ALL_PLATFORMS)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def get_account_for_update(session: AsyncSession, account_id: str) -> Account | None:
    """The account, locked against concurrent transfers until the transaction ends.

    Take several locks in ascending id order, as the ledger does."""
    return await session.get(Account, account_id, with_for_update={"key_share": True}, populate_existing=True)


async def list_accounts(
    session: AsyncSession,
    *,
    owner_type: str | None,
    owner_id: str | None,
    currency: str | None,
    kind: str | None,
    after_seq: int | None,
    limit: int,
    platform_id: str | None = None,
    newest_first: bool = False,
) -> Sequence[Account]:
    """Oldest first, or newest first; ``after_seq`` is the last ``seq`` seen."""
    query = sa.select(Account).order_by(Account.seq.desc() if newest_first else Account.seq)
    query = query.limit(min(limit, MAX_PAGE_SIZE))
    if platform_id is not None:
        query = query.where(Account.platform_id == platform_id)
    if owner_type is not None:
        query = query.where(Account.owner_type == owner_type)
    if owner_id is not None:
        query = query.where(Account.owner_id == owner_id)
    if currency is not None:
        query = query.where(Account.currency == currency)
    if kind is not None:
        query = query.where(Account.kind == kind)
    if after_seq is not None:
        query = query.where(Account.seq < after_seq if newest_first else Account.seq > after_seq)
    return (await session.scalars(query)).all()


async def get_transfer(session: AsyncSession, transfer_id: str) -> Transfer | None:
    return await session.get(Transfer, transfer_id)


async def resolution_of(session: AsyncSession, pending_id: str) -> Transfer | None:
    """The transfer that posted, voided or expired ``pending_id``, if any."""
    result = await session.scalars(sa.select(Transfer).where(Transfer.pending_id == pending_id))
    return result.one_or_none()


async def resolutions_of(session: AsyncSession, pending_ids: Sequence[str]) -> dict[str, Transfer]:
    """The transfers that posted, voided or expired each of ``pending_ids``, by pending id."""
    if not pending_ids:
        return {}
    result = await session.scalars(sa.select(Transfer).where(Transfer.pending_id.in_(pending_ids)))
    return {transfer.pending_id: transfer for transfer in result if transfer.pending_id is not None}


async def lock_accounts(session: AsyncSession, account_ids: Sequence[str]) -> list[str]:
    """Lock the accounts in ascending id order, as the ledger function does;
    returns the ids found."""
    result = await session.scalars(
        sa.select(Account.id)
        .where(Account.id.in_(sorted(set(account_ids))))
        .order_by(Account.id)
        .with_for_update(key_share=True)
    )
    return list(result)


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
        query = sa.select(Transfer).where(column == account_id).order_by(Transfer.seq.desc()).limit(page)
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
    both = sa.union_all(one_side(Transfer.debit_account_id), one_side(Transfer.credit_account_id)).subquery()
    merged = sa.select(Transfer).from_statement(sa.select(both).order_by(both.c.seq.desc()).limit(page))
    return (await session.scalars(merged)).all()


async def insert_account_if_absent(session: AsyncSession, account: dict[str, Any]) -> bool:
    """Insert the account unless its id exists; True when this call inserted it.

    A concurrent insert of the same id waits for the other transaction and
    then does nothing, so callers racing to open one account all succeed. No
    conflict target: the id is also in the (id, currency) unique key, and a
    race caught there instead of on the primary key must not raise either."""
    statement = postgresql.insert(Account).values(**account).on_conflict_do_nothing().returning(Account.id)
    return await session.scalar(statement) is not None


@dataclass(frozen=True)
class Totals:
    """An account's four totals at one point of its history."""

    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int


@dataclass(frozen=True)
class EntryRow:
    """One transfer seen from one account, with that account's totals around it."""

    seq: int
    transfer_id: str
    kind: str
    side: str
    """``debit`` or ``credit``: which side of the transfer the account is on."""
    amount_minor: int
    currency: str
    code: str
    pending_id: str | None
    pending_amount_minor: int | None
    """For a resolution, the amount its pending transfer reserved."""
    metadata: dict[str, Any]
    pending_metadata: dict[str, Any] | None
    """For a resolution, its pending transfer's metadata."""
    created_at: datetime
    before: Totals
    after: Totals


# Each transfer's effect on the account's four totals: a resolution undoes its
# pending transfer's reservation, and a post moves the posted part. The totals
# after an entry are the account's current totals less the effects of every
# later transfer, all read in one statement (one snapshot). The page costs
# ``limit`` index entries per side; the later transfers before it (the cursor's
# depth) are summed once.
_ACCOUNT_ENTRIES = sa.text(
    """
    WITH page AS (
        SELECT id FROM (
            (SELECT seq, id FROM ledger_transfers
              WHERE debit_account_id = :account_id AND seq < :before_seq
              ORDER BY seq DESC LIMIT :limit)
            UNION ALL
            (SELECT seq, id FROM ledger_transfers
              WHERE credit_account_id = :account_id AND seq < :before_seq
              ORDER BY seq DESC LIMIT :limit)
        ) both_sides
        ORDER BY seq DESC LIMIT :limit
    ), later AS (
        SELECT id FROM ledger_transfers WHERE debit_account_id = :account_id AND seq >= :before_seq
        UNION ALL
        SELECT id FROM ledger_transfers WHERE credit_account_id = :account_id AND seq >= :before_seq
    ), effects AS (
        SELECT t.seq, t.id, t.kind, t.amount_minor, t.currency, t.code, t.pending_id, t.metadata,
               t.created_at, p.amount_minor AS pending_amount, p.metadata AS pending_metadata,
               CASE WHEN t.debit_account_id = :account_id THEN 'debit' ELSE 'credit' END AS side,
               t.id IN (SELECT id FROM page) AS in_page,
               CASE WHEN t.debit_account_id = :account_id AND t.kind IN ('posted', 'post_pending')
                    THEN t.amount_minor ELSE 0 END AS dp,
               CASE WHEN t.credit_account_id = :account_id AND t.kind IN ('posted', 'post_pending')
                    THEN t.amount_minor ELSE 0 END AS cp,
               CASE WHEN t.debit_account_id <> :account_id OR t.kind = 'posted' THEN 0
                    WHEN t.kind = 'pending' THEN t.amount_minor
                    ELSE -p.amount_minor END AS dpe,
               CASE WHEN t.credit_account_id <> :account_id OR t.kind = 'posted' THEN 0
                    WHEN t.kind = 'pending' THEN t.amount_minor
                    ELSE -p.amount_minor END AS cpe
          FROM ledger_transfers t
          LEFT JOIN ledger_transfers p ON p.id = t.pending_id
         WHERE t.id IN (SELECT id FROM page UNION ALL SELECT id FROM later)
    ), tail AS (
        SELECT coalesce(sum(dp), 0) AS dp, coalesce(sum(cp), 0) AS cp,
               coalesce(sum(dpe), 0) AS dpe, coalesce(sum(cpe), 0) AS cpe
          FROM effects WHERE NOT in_page
    )
    SELECT e.seq, e.id, e.kind, e.side, e.amount_minor, e.currency, e.code, e.pending_id,
           e.pending_amount, e.metadata, e.pending_metadata, e.created_at,
           e.dp, e.cp, e.dpe, e.cpe,
           (a.debits_posted - tail.dp - coalesce(sum(e.dp) OVER newer, 0))::bigint AS dp_after,
           (a.credits_posted - tail.cp - coalesce(sum(e.cp) OVER newer, 0))::bigint AS cp_after,
           (a.debits_pending - tail.dpe - coalesce(sum(e.dpe) OVER newer, 0))::bigint AS dpe_after,
           (a.credits_pending - tail.cpe - coalesce(sum(e.cpe) OVER newer, 0))::bigint AS cpe_after
      FROM effects e
      CROSS JOIN tail
      JOIN ledger_accounts a ON a.id = :account_id
     WHERE e.in_page
    WINDOW newer AS (ORDER BY e.seq DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
     ORDER BY e.seq DESC
    """
)

_NO_CURSOR = 2**63 - 1


async def list_account_entries(
    session: AsyncSession, *, account_id: str, before_seq: int | None, limit: int
) -> list[EntryRow]:
    """Newest first; ``before_seq`` is the last ``seq`` seen."""
    result = await session.execute(
        _ACCOUNT_ENTRIES,
        {
            "account_id": account_id,
            "before_seq": _NO_CURSOR if before_seq is None else before_seq,
            "limit": min(limit, MAX_PAGE_SIZE),
        },
    )
    entries = []
    for row in result.mappings():
        after = Totals(row["dp_after"], row["cp_after"], row["dpe_after"], row["cpe_after"])
        before = Totals(
            after.debits_posted - row["dp"],
            after.credits_posted - row["cp"],
            after.debits_pending - row["dpe"],
            after.credits_pending - row["cpe"],
        )
        entries.append(
            EntryRow(
                seq=row["seq"],
                transfer_id=row["id"],
                kind=row["kind"],
                side=row["side"],
                amount_minor=row["amount_minor"],
                currency=row["currency"],
                code=row["code"],
                pending_id=row["pending_id"],
                pending_amount_minor=row["pending_amount"],
                metadata=row["metadata"],
                pending_metadata=row["pending_metadata"],
                created_at=row["created_at"],
                before=before,
                after=after,
            )
        )
    return entries


async def posted_flows(
    session: AsyncSession,
    *,
    account_ids: Sequence[str],
    since: datetime,
    until: datetime,
    code: str | None = None,
) -> dict[str, tuple[int, int]]:
    """Per account, the money posted out of it and into it in ``[since, until)``:
    posted transfers and the posted part of pending ones; only those with ``code`` if given."""
    if not account_ids:
        return {}
    moved = sa.and_(
        Transfer.kind.in_(("posted", "post_pending")),
        Transfer.created_at >= since,
        Transfer.created_at < until,
        sa.true() if code is None else Transfer.code == code,
    )
    debits = sa.select(
        Transfer.debit_account_id.label("account_id"),
        Transfer.amount_minor.label("out"),
        sa.literal(0, sa.BigInteger).label("in_"),
    ).where(Transfer.debit_account_id.in_(account_ids), moved)
    credits = sa.select(
        Transfer.credit_account_id.label("account_id"),
        sa.literal(0, sa.BigInteger).label("out"),
        Transfer.amount_minor.label("in_"),
    ).where(Transfer.credit_account_id.in_(account_ids), moved)
    both = sa.union_all(debits, credits).subquery()
    rows = await session.execute(
        sa.select(both.c.account_id, sa.func.sum(both.c.out), sa.func.sum(both.c.in_)).group_by(both.c.account_id)
    )
    flows = {account_id: (0, 0) for account_id in account_ids}
    for account_id, out, in_ in rows:
        flows[account_id] = (int(out), int(in_))
    return flows


@dataclass(frozen=True)
class CurrencyTotals:
    """One currency's accounts summed: what the ``balanced`` invariant compares."""

    currency: str
    accounts: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int


async def totals_by_currency(session: AsyncSession) -> list[CurrencyTotals]:
    """Per currency, the number of accounts and the sums of their four totals, by currency code."""
    rows = await session.execute(
        sa.select(
            Account.currency,
            sa.func.count(),
            sa.func.sum(Account.debits_posted),
            sa.func.sum(Account.credits_posted),
            sa.func.sum(Account.debits_pending),
            sa.func.sum(Account.credits_pending),
        )
        .group_by(Account.currency)
        .order_by(Account.currency)
    )
    return [
        CurrencyTotals(
            currency=currency,
            accounts=int(accounts),
            debits_posted=int(debits_posted),
            credits_posted=int(credits_posted),
            debits_pending=int(debits_pending),
            credits_pending=int(credits_pending),
        )
        for currency, accounts, debits_posted, credits_posted, debits_pending, credits_pending in rows
    ]


@dataclass(frozen=True)
class KindTotals:
    """The accounts of one kind, in one currency, of one platform (None: the installation's own)."""

    platform_id: str | None
    currency: str
    kind: str
    posted: int
    """The sum of their posted balances, each on its own normal side."""
    debits_pending: int
    """What pending transfers would take out of them: for wallets, the money on hold."""


async def totals_by_platform_currency_kind(session: AsyncSession, *, kinds: Sequence[str]) -> list[KindTotals]:
    """Per platform, currency and kind (of ``kinds``), the accounts' posted balances and pending debits."""
    posted = sa.case(
        (Account.credits_must_not_exceed_debits, Account.debits_posted - Account.credits_posted),
        else_=Account.credits_posted - Account.debits_posted,
    )
    rows = await session.execute(
        sa.select(
            Account.platform_id,
            Account.currency,
            Account.kind,
            sa.func.sum(posted),
            sa.func.sum(Account.debits_pending),
        )
        .where(Account.kind.in_(kinds))
        .group_by(Account.platform_id, Account.currency, Account.kind)
        .order_by(Account.platform_id, Account.currency, Account.kind)
    )
    return [
        KindTotals(platform_id=platform_id, currency=currency, kind=kind, posted=int(total), debits_pending=int(held))
        for platform_id, currency, kind, total, held in rows
    ]
