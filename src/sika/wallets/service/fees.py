"""Platform fees: each platform's fee account per currency, what a capture pays
into it (``holds``), and what each platform has earned."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import tenancy
from sika.ledger import service as ledger_service
from sika.platforms import service as platforms_service
from sika.wallets.models import Wallet

FEE_CODE = "platform.fee"
FEE_ACCOUNT_KIND = "platform.fees"
FEE_CURRENCIES = 200
"""The most currencies a platform's fees are listed in (one page of accounts)."""


def fee_account_id(platform_id: str, currency: str) -> str:
    """A platform's fee account, one per currency. The default platform keeps the id
    its account had before platforms existed (migration ``0010``)."""
    if platform_id == tenancy.DEFAULT_PLATFORM_ID:
        return f"acct_platform_fees_{currency.lower()}"
    return f"acct_platform_fees_{platform_id}_{currency.lower()}"


async def capture_fee(session: AsyncSession, wallet: Wallet, captured: int, asked: int | None) -> int:
    """The platform's part of a capture to another wallet: what the caller asked,
    or else what the wallet's platform's fee policy takes."""
    if asked is not None:
        return asked
    return await platforms_service.fee_of_platform(
        session, platform_id=wallet.platform_id, currency=wallet.currency, amount_minor=captured
    )


@dataclass(frozen=True)
class FeeBalance:
    currency: str
    account_id: str
    earned_minor: int


async def platform_fees(session: AsyncSession, *, platform_id: str) -> list[FeeBalance]:
    """What the platform's fee accounts hold, per currency (none before its first fee)."""
    platform = await platforms_service.get_platform(session, platform_id=platform_id)
    accounts = await ledger_service.list_accounts(
        session, kind=FEE_ACCOUNT_KIND, platform_id=platform.id, limit=FEE_CURRENCIES
    )
    return [
        FeeBalance(
            currency=account.currency,
            account_id=account.id,
            earned_minor=ledger_service.balance_of(account).posted_minor,
        )
        for account in sorted(accounts, key=lambda account: account.currency)
    ]
