"""Instalment plans, their instalments, manual reductions and payments.

A plan says who pays (the payer party, from its wallet in the plan's currency) and
who is paid: a party's wallet, or the platform's revenue, which is its fee account
in that currency (``platform.fees``, where its fees already go). Its instalments
add up to its total. Each payment of an instalment records the amounts fixed when
it started (base, promo discount, manual reductions, final); partial unique indexes
keep at most one payment in flight and at most one succeeded per instalment, and
the invariants (``sika.instalments.invariants``) check that a paid instalment has
exactly one succeeded payment of its final amount, moved by one ledger transfer."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned
from sika.instalments.states import InstalmentStatus, PaymentMethod, PaymentStatus, PlanStatus, ReductionKind


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class InstalmentPlan(PlatformOwned, Base):
    __tablename__ = "instalment_plans"
    __table_args__ = (
        sa.CheckConstraint("total_minor > 0", name="total_positive"),
        sa.CheckConstraint("instalment_count >= 1", name="count_positive"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        sa.CheckConstraint(_in("status", tuple(s.value for s in PlanStatus)), name="status"),
        sa.CheckConstraint("(payee_party_id IS NULL) = (payee_wallet_id IS NULL)", name="payee_whole"),
        sa.CheckConstraint("payee_party_id IS NULL OR payee_party_id <> payer_party_id", name="two_parties"),
        sa.CheckConstraint("char_length(end_reason) BETWEEN 1 AND 1000", name="end_reason_length"),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name="created_by_length"),
        sa.ForeignKeyConstraint(
            ["payer_party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_instalment_plans_payer"
        ),
        sa.ForeignKeyConstraint(
            ["payer_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            name="fk_instalment_plans_payer_wallet",
        ),
        sa.ForeignKeyConstraint(
            ["payee_party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_instalment_plans_payee"
        ),
        sa.ForeignKeyConstraint(
            ["payee_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            name="fk_instalment_plans_payee_wallet",
        ),
        sa.UniqueConstraint("id", "platform_id", name="uq_instalment_plans_id_platform_id"),
        sa.Index("ix_instalment_plans_platform", "platform_id", "seq"),
        sa.Index("ix_instalment_plans_payer", "payer_party_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``inp_…``."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its payer's platform (composite foreign keys say so for both parties and wallets)."""
    payer_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    payer_wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    """The payer's wallet in the plan's currency: every payment passes through it."""
    payee_party_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    """None: the platform is paid (its revenue account)."""
    payee_wallet_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    currency: Mapped[str] = mapped_column(sa.String(3))
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    instalment_count: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16))
    end_reason: Mapped[str | None] = mapped_column(sa.Text)
    """Why the platform cancelled or stopped it."""
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class Instalment(PlatformOwned, Base):
    __tablename__ = "instalments"
    __table_args__ = (
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint(_in("status", tuple(s.value for s in InstalmentStatus)), name="status"),
        sa.CheckConstraint("char_length(end_reason) BETWEEN 1 AND 1000", name="end_reason_length"),
        sa.CheckConstraint(f"(status = '{InstalmentStatus.paid.value}') = (paid_at IS NOT NULL)", name="paid_at"),
        sa.ForeignKeyConstraint(
            ["plan_id", "platform_id"],
            ["instalment_plans.id", "instalment_plans.platform_id"],
            name="fk_instalments_plan",
        ),
        sa.UniqueConstraint("plan_id", "number", name="uq_instalments_plan_number"),
        sa.UniqueConstraint("id", "platform_id", name="uq_instalments_id_platform_id"),
        # What the job looks for: open instalments by due date.
        sa.Index(
            "ix_instalments_open_due",
            "due_on",
            postgresql_where=sa.text("status IN ('scheduled', 'due', 'overdue')"),
        ),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``ins_…``."""
    plan_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("instalment_plans.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its plan's platform."""
    number: Mapped[int] = mapped_column(sa.Integer)
    due_on: Mapped[date] = mapped_column(sa.Date)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """The base: what is due before any promo code or manual reduction."""
    status: Mapped[str] = mapped_column(sa.String(16))
    end_reason: Mapped[str | None] = mapped_column(sa.Text)
    reminded_within: Mapped[int | None] = mapped_column(sa.Integer)
    """The fewest days before its due date an ``instalment.due_soon`` was sent for (None: none yet)."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]


class InstalmentReduction(PlatformOwned, Base):
    """A manual reduction an operator (or the platform, where allowed) granted on an instalment."""

    __tablename__ = "instalment_reductions"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", tuple(k.value for k in ReductionKind)), name="kind"),
        sa.CheckConstraint(
            "(kind = 'fixed' AND amount_minor > 0 AND percent_bps IS NULL)"
            " OR (kind = 'percent' AND percent_bps BETWEEN 1 AND 10000 AND amount_minor IS NULL)",
            name="value_of_kind",
        ),
        sa.CheckConstraint("char_length(reason) BETWEEN 1 AND 1000", name="reason_length"),
        sa.ForeignKeyConstraint(
            ["instalment_id", "platform_id"],
            ["instalments.id", "instalments.platform_id"],
            name="fk_instalment_reductions_instalment",
        ),
        sa.Index("ix_instalment_reductions_instalment", "instalment_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``inr_…``."""
    instalment_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("instalments.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    kind: Mapped[str] = mapped_column(sa.String(8))
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    percent_bps: Mapped[int | None] = mapped_column(sa.Integer)
    """Of the base, in hundredths of a percent (1250 is 12.5 %)."""
    reason: Mapped[str] = mapped_column(sa.Text)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]


class InstalmentPayment(PlatformOwned, Base):
    __tablename__ = "instalment_payments"
    __table_args__ = (
        sa.CheckConstraint(_in("status", tuple(s.value for s in PaymentStatus)), name="status"),
        sa.CheckConstraint(_in("method", tuple(m.value for m in PaymentMethod)), name="method"),
        sa.CheckConstraint("base_minor > 0 AND discount_minor >= 0 AND reduction_minor >= 0", name="amounts"),
        sa.CheckConstraint(
            "final_minor = greatest(0, base_minor - discount_minor - reduction_minor)", name="final_of_amounts"
        ),
        sa.CheckConstraint(
            "(method IN ('mobile_money', 'card')) = (collection_id IS NOT NULL)", name="collection_iff_collected"
        ),
        sa.CheckConstraint("(method = 'nothing_due') = (final_minor = 0)", name="nothing_due_iff_zero"),
        sa.CheckConstraint("(promo_code IS NULL) = (promo_code_id IS NULL)", name="promo_whole"),
        sa.ForeignKeyConstraint(
            ["instalment_id", "platform_id"],
            ["instalments.id", "instalments.platform_id"],
            name="fk_instalment_payments_instalment",
        ),
        sa.Index(
            "uq_instalment_payments_one_pending",
            "instalment_id",
            unique=True,
            postgresql_where=sa.text(f"status = '{PaymentStatus.pending.value}'"),
        ),
        sa.Index(
            "uq_instalment_payments_one_succeeded",
            "instalment_id",
            unique=True,
            postgresql_where=sa.text(f"status = '{PaymentStatus.succeeded.value}'"),
        ),
        sa.Index("ix_instalment_payments_instalment", "instalment_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``inpay_…``; its ledger transfer is ``<id>.pay``."""
    instalment_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("instalments.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    method: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    base_minor: Mapped[int] = mapped_column(sa.BigInteger)
    discount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """The promo code's, fixed when the payment started."""
    reduction_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """The manual reductions', fixed when the payment started."""
    final_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """What is charged, exactly: a collection asks for this amount."""
    promo_code: Mapped[str | None] = mapped_column(sa.String(64))
    """The promo code applied, as the platform wrote it."""
    promo_code_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("promo_codes.id"))
    """Its code (``promo_…``): reserved with the payment, confirmed or freed with its outcome."""
    collection_id: Mapped[str | None] = mapped_column(
        sa.String(64), sa.ForeignKey("payments_collections.id"), unique=True
    )
    transfer_id: Mapped[str | None] = mapped_column(sa.String(64))
    """The ledger transfer from the payer's wallet to the payee, once succeeded."""
    failure_code: Mapped[str | None] = mapped_column(sa.String(100))
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]
