"""A wallet names the ledger accounts that hold one party's money in one
currency. It stores no amount: balance, held and available are read from
the accounts' totals, and every movement is a ledger transfer.

Each wallet has two accounts: its own (overdraft-protected), and a holds
account of its own that its holds reserve funds towards. A capture posts
the hold into the holds account and pays the destination out of it in the
same transaction, so the holds account is empty between requests and no
account shared by all wallets sits on the path of every hold.

Every hold also has a row in ``wallet_holds`` naming its owner: the domain
object whose flow alone may capture or release it (see ``WalletHold``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned

WALLET_ACCOUNT_KIND = "wallet"
HOLDS_ACCOUNT_KIND = "wallet.holds"


class HoldOwnerType(StrEnum):
    """What may own a hold: the holds API (``POST /v1/wallets/{id}/holds``) or a domain object."""

    api = "api"
    payout = "payout"


class Wallet(PlatformOwned, Base):
    __tablename__ = "wallets"
    __table_args__ = (
        sa.UniqueConstraint("party_id", "currency", name="uq_wallets_party_id_currency"),
        # Each account is in the wallet's currency, checked by the database.
        sa.ForeignKeyConstraint(
            ["account_id", "currency"],
            ["ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_wallets_account",
        ),
        sa.ForeignKeyConstraint(
            ["holds_account_id", "currency"],
            ["ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_wallets_holds_account",
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        sa.CheckConstraint("account_id <> holds_account_id", name="two_accounts"),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_wallets_party_platform"
        ),
        sa.UniqueConstraint("id", "platform_id", name="uq_wallets_id_platform_id"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Creation order."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``wal_…``."""
    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its party's platform (a composite foreign key says so)."""
    currency: Mapped[str] = mapped_column(sa.String(3))
    account_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """The ledger account that holds the money: debits (posted and pending)
    may never exceed its credits."""
    holds_account_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """The ledger account the wallet's holds reserve funds towards."""
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class WalletOpenHold(Base):
    """The open pending transfers on wallet accounts, one row per account
    they touch: the list the database checks a wallet account's pending
    totals against at commit, so the check costs the open holds, not the
    account's whole history.

    It holds no amount (the transfer has it). Rows are written only by the
    trigger on ledger transfers (migration ``0003``): added with a pending
    transfer, removed with its post, void or expiry; any other write is refused."""

    __tablename__ = "wallet_open_holds"
    __table_args__ = (sa.Index("ix_wallet_open_holds_transfer_id", "transfer_id"),)

    account_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("ledger_accounts.id"), primary_key=True)
    transfer_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("ledger_transfers.id"), primary_key=True)


class WalletHold(PlatformOwned, Base):
    """Who owns a hold and who placed it: one row per hold, keyed by the
    hold's pending transfer id, written in the transaction that places it and
    never changed (migration ``0005`` refuses updates and deletes, and refuses
    at commit a pending transfer on a wallet account without its row).

    The owner is the domain object that placed the hold: a payout (``owner_id``
    its id), or ``api`` for holds placed over the holds API, whose owner is no
    object but whoever placed it (``placed_by_party_id``). Only the owner's
    own flow may capture or release the hold (``sika.wallets.service``)."""

    __tablename__ = "wallet_holds"
    __table_args__ = (
        sa.CheckConstraint(
            f"owner_type IN ({', '.join(repr(kind.value) for kind in HoldOwnerType)})", name="owner_type"
        ),
        sa.CheckConstraint("(owner_type = 'api') = (owner_id IS NULL)", name="owner_id_iff_domain"),
        sa.CheckConstraint("char_length(placed_by) BETWEEN 1 AND 100", name="placed_by_length"),
        sa.ForeignKeyConstraint(
            ["wallet_id", "platform_id"], ["wallets.id", "wallets.platform_id"], name="fk_wallet_holds_wallet_platform"
        ),
        # Search: a payout's id finds the hold it owns (docs/support.md; migration 0012).
        sa.Index("ix_wallet_holds_owner", "owner_id", postgresql_where=sa.text("owner_id IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("ledger_transfers.id"), primary_key=True)
    """The hold's id: its pending transfer's."""
    wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its wallet's platform."""
    owner_type: Mapped[str] = mapped_column(sa.String(16))
    """A ``HoldOwnerType``."""
    owner_id: Mapped[str | None] = mapped_column(sa.String(64))
    """The owning object's id (a payout's), or null for ``api``."""
    placed_by: Mapped[str] = mapped_column(sa.String(100))
    """The actor that placed it: ``key:<api key id>``, ``party:<party id>``, ``system:<job>``."""
    placed_by_party_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    """The party whose token placed it; null when an API key or a job did."""
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
