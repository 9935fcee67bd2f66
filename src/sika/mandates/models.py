"""The spend catalogue (categories, merchants) and mandates with their payees,
purchases and spends.

A mandate holds a sender's money for a beneficiary in a ledger account of its
own (managed: only this domain moves money on it). Top-ups come from the
sender's wallet; purchases and spends leave it straight for a merchant's or a
payee's wallet (less the platform's fee); at expiry or revocation what is left
goes back to the sender's wallet. The beneficiary never holds the money. The
amounts on these rows say what the ledger should show; the mandate's
invariants (``sika.mandates.invariants``) check that it does.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned
from sika.mandates.states import MandateStatus

MANDATE_ACCOUNT_KIND = "mandate.held"
"""The kind of a mandate's ledger account (decision 0004: a domain's kinds start with its name)."""


def _fk(columns: list[str], table: str, name: str) -> sa.ForeignKeyConstraint:
    """A composite foreign key that keeps the row on its parent's platform."""
    return sa.ForeignKeyConstraint(columns, [f"{table}.id", f"{table}.platform_id"], name=name)


class SpendCategory(PlatformOwned, Base):
    __tablename__ = "mandate_spend_categories"
    __table_args__ = (
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,39}$'", name="code_format"),
        sa.CheckConstraint("char_length(label_en) BETWEEN 1 AND 100", name="label_en_length"),
        sa.CheckConstraint("char_length(label_fr) BETWEEN 1 AND 100", name="label_fr_length"),
        sa.UniqueConstraint("platform_id", "code", name="uq_mandate_spend_categories_code"),
        sa.UniqueConstraint("id", "platform_id", name="uq_mandate_spend_categories_id_platform_id"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``cat_…``."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    code: Mapped[str] = mapped_column(sa.String(40))
    """``school``, ``pharmacy``: unique on its platform."""
    label_en: Mapped[str] = mapped_column(sa.String(100))
    label_fr: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]


class Merchant(PlatformOwned, Base):
    __tablename__ = "mandate_merchants"
    __table_args__ = (
        sa.CheckConstraint("certified = (certified_at IS NOT NULL)", name="certified_at_iff_certified"),
        _fk(["party_id", "platform_id"], "parties", "fk_mandate_merchants_party"),
        _fk(["category_id", "platform_id"], "mandate_spend_categories", "fk_mandate_merchants_category"),
        sa.UniqueConstraint("platform_id", "party_id", name="uq_mandate_merchants_party"),
        sa.UniqueConstraint("id", "platform_id", name="uq_mandate_merchants_id_platform_id"),
        sa.Index("ix_mandate_merchants_party", "party_id"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``mer_…``."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    """The merchant's party: purchases are paid to its wallet in the mandate's currency."""
    category_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("mandate_spend_categories.id"))
    certified: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    """Checked by an operator (support or admin); a ``certified_only`` mandate pays only these."""
    certified_at: Mapped[datetime | None]
    certified_by: Mapped[str | None] = mapped_column(sa.String(100))
    """The operator who last certified or decertified it: ``key:<id>``."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Mandate(PlatformOwned, Base):
    __tablename__ = "mandates"
    __table_args__ = (
        sa.CheckConstraint("funded_minor > 0", name="funded_positive"),
        sa.CheckConstraint("spent_minor >= 0 AND returned_minor >= 0", name="moved_not_negative"),
        sa.CheckConstraint("spent_minor + returned_minor <= funded_minor", name="moved_within_funded"),
        sa.CheckConstraint("max_purchase_minor IS NULL OR max_purchase_minor > 0", name="max_purchase_positive"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        sa.CheckConstraint(
            "status IN (" + ", ".join(repr(s.value) for s in MandateStatus) + ")",
            name="status",
        ),
        sa.CheckConstraint("sender_party_id <> beneficiary_party_id", name="two_parties"),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name="created_by_length"),
        sa.CheckConstraint("(status = 'active') = (ended_at IS NULL)", name="ended_at_iff_ended"),
        _fk(["sender_party_id", "platform_id"], "parties", "fk_mandates_sender_platform"),
        _fk(["beneficiary_party_id", "platform_id"], "parties", "fk_mandates_beneficiary_platform"),
        _fk(["sender_wallet_id", "platform_id"], "wallets", "fk_mandates_sender_wallet"),
        sa.ForeignKeyConstraint(
            ["account_id", "currency"], ["ledger_accounts.id", "ledger_accounts.currency"], name="fk_mandates_account"
        ),
        sa.UniqueConstraint("id", "platform_id", name="uq_mandates_id_platform_id"),
        # One active mandate per sender, beneficiary and currency: more money goes in as a top-up.
        sa.Index(
            "uq_mandates_active_pair",
            "sender_party_id",
            "beneficiary_party_id",
            "currency",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
        ),
        # What the minute job looks for.
        sa.Index("ix_mandates_expiry", "expires_at", postgresql_where=sa.text("status = 'active'")),
        sa.Index("ix_mandates_platform", "platform_id", "seq"),
        sa.Index("ix_mandates_sender", "sender_party_id", "seq"),
        sa.Index("ix_mandates_beneficiary", "beneficiary_party_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Creation order; the cursor for listing."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``man_…``; the prefix of the ledger transfer ids of its top-ups and its return."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    sender_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    """Who put the money in, and gets what is left back."""
    beneficiary_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    """Who spends it, only where the sender allowed."""
    sender_wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    account_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """The mandate's own managed ledger account, which holds what is left to spend."""
    currency: Mapped[str] = mapped_column(sa.String(3))
    funded_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """Put in: the amount at creation and every top-up."""
    spent_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Paid out by purchases and spends, the platform's fees included."""
    returned_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Given back to the sender at expiry or on revocation."""
    top_up_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    """The next top-up's transfer id is ``<id>.top_up.<count + 1>``."""
    status: Mapped[str] = mapped_column(sa.String(16))
    allowed_category_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.String(64)), server_default="{}")
    allowed_merchant_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.String(64)), server_default="{}")
    certified_only: Mapped[bool] = mapped_column(sa.Boolean)
    max_purchase_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    expires_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class MandatePayee(PlatformOwned, Base):
    __tablename__ = "mandate_payees"
    __table_args__ = (
        sa.CheckConstraint("daily_limit_minor IS NOT NULL OR total_limit_minor IS NOT NULL", name="a_limit"),
        sa.CheckConstraint("daily_limit_minor IS NULL OR daily_limit_minor > 0", name="daily_limit_positive"),
        sa.CheckConstraint("total_limit_minor IS NULL OR total_limit_minor > 0", name="total_limit_positive"),
        sa.CheckConstraint("spent_minor >= 0", name="spent_not_negative"),
        _fk(["mandate_id", "platform_id"], "mandates", "fk_mandate_payees_mandate"),
        _fk(["party_id", "platform_id"], "parties", "fk_mandate_payees_party"),
        _fk(["wallet_id", "platform_id"], "wallets", "fk_mandate_payees_wallet"),
        sa.UniqueConstraint("mandate_id", "party_id", name="uq_mandate_payees_party"),
        sa.UniqueConstraint("id", "platform_id", name="uq_mandate_payees_id_platform_id"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``mpy_…``."""
    mandate_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("mandates.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    """The payee's wallet in the mandate's currency: spends are paid to it."""
    daily_limit_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    """At most this much per day of the platform's time zone."""
    total_limit_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    spent_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Paid to this payee so far, fees included."""
    created_at: Mapped[datetime]


class MandatePurchase(PlatformOwned, Base):
    __tablename__ = "mandate_purchases"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("fee_minor BETWEEN 0 AND amount_minor", name="fee_within_amount"),
        sa.CheckConstraint("char_length(reference) BETWEEN 1 AND 200", name="reference_length"),
        _fk(["mandate_id", "platform_id"], "mandates", "fk_mandate_purchases_mandate"),
        _fk(["merchant_id", "platform_id"], "mandate_merchants", "fk_mandate_purchases_merchant"),
        _fk(["merchant_wallet_id", "platform_id"], "wallets", "fk_mandate_purchases_wallet"),
        sa.Index("ix_mandate_purchases_mandate", "mandate_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``mpu_…``; its ledger transfers are ``<id>.pay`` and ``<id>.fee``."""
    mandate_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("mandates.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    merchant_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("mandate_merchants.id"))
    merchant_wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """Taken from the mandate; the merchant gets it less ``fee_minor``."""
    fee_minor: Mapped[int] = mapped_column(sa.BigInteger)
    reference: Mapped[str] = mapped_column(sa.String(200))
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]


class MandateSpend(PlatformOwned, Base):
    __tablename__ = "mandate_spends"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("fee_minor BETWEEN 0 AND amount_minor", name="fee_within_amount"),
        sa.CheckConstraint("char_length(reference) BETWEEN 1 AND 200", name="reference_length"),
        _fk(["mandate_id", "platform_id"], "mandates", "fk_mandate_spends_mandate"),
        _fk(["payee_id", "platform_id"], "mandate_payees", "fk_mandate_spends_payee"),
        sa.Index("ix_mandate_spends_payee_day", "payee_id", "day"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``msp_…``; its ledger transfers are ``<id>.pay`` and ``<id>.fee``."""
    mandate_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("mandates.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    payee_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("mandate_payees.id"))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    fee_minor: Mapped[int] = mapped_column(sa.BigInteger)
    reference: Mapped[str] = mapped_column(sa.String(200))
    day: Mapped[date] = mapped_column(sa.Date)
    """The day of the platform's time zone it counts against the payee's daily limit."""
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
