"""Which accounts the raw ledger API may move money on for a caller bound to a
platform: its platform's own. Another platform's account, or a system one,
answers as if it did not exist (404), so no caller learns what others hold.

Domain services reach system accounts (funding, provider clearing) on a
platform's behalf through their own flows; this rule is for the raw API only,
whose writes go to the database function without an ORM query the session's
platform filter could narrow (``sika.core.tenancy``).

An account's platform never changes, so it is remembered per process: the
transfers API's hot path pays the lookup once per account, not per transfer."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sika.core.context import Actor
from sika.ledger import repository
from sika.ledger.service.errors import AccountNotFound, PendingTransferNotFound

REMEMBERED_ACCOUNTS = 100_000
"""At most this many accounts' platforms are kept; past it the memory starts again."""

_platform_of: dict[str, str | None] = {}


async def _platforms(source: AsyncSession | AsyncEngine, account_ids: set[str]) -> dict[str, str | None]:
    missing = account_ids - _platform_of.keys()
    if missing:
        found = await repository.platforms_of_accounts(source, sorted(missing))
        if len(_platform_of) + len(found) > REMEMBERED_ACCOUNTS:
            _platform_of.clear()
        _platform_of.update(found)
    return {account_id: _platform_of[account_id] for account_id in account_ids if account_id in _platform_of}


async def check_accounts(source: AsyncSession | AsyncEngine, *, actor: Actor, account_ids: Iterable[str]) -> None:
    """Refuse (``AccountNotFound``) an account outside a bound actor's platform.
    An account that does not exist at all is left to the ledger to name."""
    if actor.platform_id is None:
        return
    for account_id, platform_id in sorted((await _platforms(source, set(account_ids))).items()):
        if platform_id != actor.platform_id:
            raise AccountNotFound(f"No ledger account {account_id}.")


async def check_pending(session: AsyncSession, *, actor: Actor, pending_id: str) -> None:
    """Refuse (``PendingTransferNotFound``) a pending transfer a bound actor cannot see."""
    if actor.platform_id is None:
        return
    accounts = await repository.accounts_of_transfer(session, pending_id)
    if accounts is None:
        return
    try:
        await check_accounts(session, actor=actor, account_ids=accounts)
    except AccountNotFound:
        raise PendingTransferNotFound(f"No pending transfer {pending_id}.") from None
