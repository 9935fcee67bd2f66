"""Ledger tables: accounts with their running totals, append-only transfers,
and the timeouts of open pending transfers.

The rules that keep money right live in the database as well as in code:
CHECK constraints on the balance flags, a unique ``pending_id`` so a pending
transfer is resolved once (both here), and triggers that refuse to rewrite
transfers, to store a malformed transfer, to move money on a closed account
or to store a malformed currency, kind or owner (``sql/ledger.sql``, with the
function that writes every transfer).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core import tenancy
from sika.core.db import Base
from sika.core.tenancy import PlatformOwned

TRANSFER_KINDS = ("posted", "pending", "post_pending", "void_pending", "expire_pending")
RESOLUTION_KINDS = ("post_pending", "void_pending", "expire_pending")


class Account(PlatformOwned, Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        # For composite foreign keys from other tables (a wallet's account and
        # currency must agree).
        sa.UniqueConstraint("id", "currency", name="uq_ledger_accounts_id_currency"),
        sa.CheckConstraint(
            "NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)",
            name="one_flag",
        ),
        # numeric sums: a CHECK must never fail by overflowing its own arithmetic.
        sa.CheckConstraint(
            "NOT debits_must_not_exceed_credits"
            " OR debits_posted::numeric + debits_pending::numeric <= credits_posted::numeric",
            name="debits_within_credits",
        ),
        sa.CheckConstraint(
            "NOT credits_must_not_exceed_debits"
            " OR credits_posted::numeric + credits_pending::numeric <= debits_posted::numeric",
            name="credits_within_debits",
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name="totals_not_negative",
        ),
        # The formats of currency and kind, and owner_type with owner_id, are
        # checked by the trigger ledger_accounts_check_values (sql/ledger.sql),
        # only when those columns are written: PostgreSQL would prepare a CHECK
        # for every update, each transfer's included (docs/ledger.md, "Performance").
        sa.Index("ix_ledger_accounts_owner", "owner_type", "owner_id"),
        sa.Index("ix_ledger_accounts_seq", "seq", unique=True),
        sa.Index("ix_ledger_accounts_platform", "platform_id", "seq"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """Public id, ``acct_…``. Rows are locked in ascending id order."""
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity())
    """Creation order; the cursor when listing accounts."""
    currency: Mapped[str] = mapped_column(sa.String(3))
    """ISO 4217 code; every transfer on the account is in this currency."""
    kind: Mapped[str] = mapped_column(sa.String(50))
    """What the account is for, e.g. ``wallet.available``, ``escrow``, ``provider.settlement``."""
    owner_type: Mapped[str | None] = mapped_column(sa.String(50))
    """Who the account belongs to (``party``, ``escrow``…); none for system accounts."""
    owner_id: Mapped[str | None] = mapped_column(sa.String(64))
    platform_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """The platform that opened it or whose party it serves; null for system accounts
    (funding, provider clearing), which only global operators see."""
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(server_default=sa.false())
    """Overdraft protection for credit-normal accounts (a wallet): posted and
    pending debits together may never exceed posted credits."""
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(server_default=sa.false())
    """The mirror rule for debit-normal accounts (money a provider owes us)."""
    is_managed: Mapped[bool] = mapped_column(server_default=sa.false())
    """Opened by a domain service (a wallet, its holds, funding, fees, provider
    clearing): only that domain moves money on it; the raw ledger API may read
    it but neither move money on it nor close it. Never changes."""
    debits_posted: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    credits_posted: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    debits_pending: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Sum of the open pending transfers that debit this account."""
    credits_pending: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    version: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Bumped each time the totals change, so a reader can tell two states apart."""
    closed_at: Mapped[datetime | None]
    """Set once; a closed account takes no new transfers and is never deleted."""
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    """When the totals or the state last changed (the ``now`` of that change)."""


class Transfer(Base):
    __tablename__ = "ledger_transfers"
    __table_args__ = (
        # Amount, accounts, kind, pending id, timeout, lengths and metadata size
        # are checked by the trigger ledger_transfers_check_values
        # (sql/ledger.sql) on every insert (transfers are never updated):
        # PostgreSQL would parse and plan nine CHECKs again for each insert
        # (docs/ledger.md, "Performance").
        # A pending transfer is resolved (posted, voided or expired) once only.
        # Partial, so the many transfers that resolve nothing cost it nothing.
        sa.Index(
            "uq_ledger_transfers_pending_id",
            "pending_id",
            unique=True,
            postgresql_where=sa.text("pending_id IS NOT NULL"),
        ),
        sa.Index("ix_ledger_transfers_debit_account", "debit_account_id", "seq"),
        sa.Index("ix_ledger_transfers_credit_account", "credit_account_id", "seq"),
        sa.Index(
            "ix_ledger_transfers_journal",
            "journal_id",
            postgresql_where=sa.text("journal_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``xfr_…``, or the client's own id: the same id with the same content is the same transfer."""
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity())
    """Insertion order; the cursor when listing transfers."""
    kind: Mapped[str] = mapped_column(sa.String(16))
    """``posted``, ``pending``, or the resolution of a pending transfer:
    ``post_pending`` (amount posted), ``void_pending`` and ``expire_pending``
    (amount released)."""
    # No foreign keys to the accounts: the one writer (ledger_apply_transfers)
    # has just locked both accounts and checked their currency, accounts are
    # never deleted nor change currency (triggers), and a per-row key check
    # would cost a quarter of the write path. A row written around the writer
    # is what a key would refuse; it cannot move any account's totals either,
    # so the ``transfer_accounts`` invariant names it and ``account_totals``
    # and ``balanced`` flag the accounts it claims to have moved.
    debit_account_id: Mapped[str] = mapped_column(sa.String(64))
    credit_account_id: Mapped[str] = mapped_column(sa.String(64))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """In the currency's minor unit, always > 0."""
    currency: Mapped[str] = mapped_column(sa.String(3))
    code: Mapped[str] = mapped_column(sa.String(64))
    """Why the money moved, e.g. ``wallet.top_up`` or ``hold.captured``."""
    pending_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("ledger_transfers.id"))
    """For a resolution, the pending transfer it resolves."""
    timeout_seconds: Mapped[int | None]
    """For a pending transfer: how long it may stay open before the expiry job voids it."""
    expires_at: Mapped[datetime | None]
    journal_id: Mapped[str | None] = mapped_column(sa.String(64))
    """The journal entry (``jrn_…``) this transfer was applied with, all or nothing."""
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default=sa.text("'{}'::jsonb"))
    """The caller's own bounded key/values (4 KiB at most)."""
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class PendingTimeout(Base):
    """The open pending transfers that have a timeout, by deadline.

    Transfers are append-only, so "still open" cannot be marked on them; this
    small table is the expiry job's work list. A row goes when its pending
    transfer is resolved in any way."""

    __tablename__ = "ledger_pending_timeouts"
    __table_args__ = (sa.Index("ix_ledger_pending_timeouts_expires_at", "expires_at"),)

    transfer_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("ledger_transfers.id"), primary_key=True)
    expires_at: Mapped[datetime]


def _transfer_of_platform(platform_id: str) -> Callable[[type[Transfer]], sa.ColumnElement[bool]]:
    """A transfer is a platform's when one of its accounts is (a top-up moves money
    from a system account into the platform's wallet; both sides see it)."""
    return lambda cls: sa.exists().where(
        Account.id.in_([cls.debit_account_id, cls.credit_account_id]), Account.platform_id == platform_id
    )


tenancy.visible_when(Transfer, _transfer_of_platform)
