"""Reading what was written: transfers, an account's transfers and entries,
which pending transfers were resolved and how, and posted flows over a period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.ledger import repository
from sika.ledger.models import Transfer
from sika.ledger.service.accounts import get_account
from sika.ledger.service.errors import TransferNotFound
from sika.ledger.service.values import AccountEntry


async def get_transfer(session: AsyncSession, *, transfer_id: str) -> Transfer:
    transfer = await repository.get_transfer(session, transfer_id)
    if transfer is None:
        raise TransferNotFound(f"No transfer {transfer_id}.")
    return transfer


async def list_account_transfers(
    session: AsyncSession,
    *,
    account_id: str,
    side: str | None = None,
    kind: str | None = None,
    code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 50,
) -> Sequence[Transfer]:
    """An account's transfers, newest first; ``before_seq`` is the cursor."""
    await get_account(session, account_id=account_id)
    return await repository.list_account_transfers(
        session,
        account_id=account_id,
        side=side,
        kind=kind,
        code=code,
        since=since,
        until=until,
        before_seq=before_seq,
        limit=limit,
    )


async def get_resolutions(session: AsyncSession, *, pending_ids: Sequence[str]) -> dict[str, Transfer]:
    """For each pending transfer already posted, voided or expired, the
    transfer that did it; open ones are absent."""
    return await repository.resolutions_of(session, pending_ids)


async def list_account_entries(
    session: AsyncSession, *, account_id: str, before_seq: int | None = None, limit: int = 50
) -> list[AccountEntry]:
    """The account's transfers newest first, each with the account's four
    totals before and after it (as pgledger entries record them), derived
    from the transfers in one snapshot; ``before_seq`` is the cursor."""
    await get_account(session, account_id=account_id)
    return await repository.list_account_entries(session, account_id=account_id, before_seq=before_seq, limit=limit)


async def posted_flows(
    session: AsyncSession,
    *,
    account_ids: Sequence[str],
    since: datetime,
    until: datetime,
    code: str | None = None,
) -> dict[str, tuple[int, int]]:
    """Per account, ``(out, in)``: what was posted out of it and into it in
    ``[since, until)``, counting the posted part of pending transfers; with
    ``code``, only the transfers of that code."""
    return await repository.posted_flows(session, account_ids=account_ids, since=since, until=until, code=code)
