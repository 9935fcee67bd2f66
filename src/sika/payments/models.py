"""Collections (money in from a customer's mobile money or card, credited to a
wallet) and payouts (money out of a wallet to mobile money).

Each row is its flow's recovery point: it is committed before the provider
is called, and its ``status`` only ever moves forward (see ``sika.payments.states``,
from which the status CHECK constraints and the open-row indexes are built).
Amounts are in the currency's minor unit and never change after creation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned
from sika.payments.states import COLLECTION_STATES, PAYOUT_STATES, CollectionStatus, PayoutStatus, StateMachine

COLLECTION_STATUSES = tuple(status.value for status in CollectionStatus)
PAYOUT_STATUSES = tuple(status.value for status in PayoutStatus)
METHODS = ("mobile_money", "card")
OPERATORS = ("orange", "mtn", "moov", "wave")
NEXT_ACTIONS = ("submit_otp", "approve_on_phone", "redirect")
PROVIDERS = ("paystack", "fedapay", "stripe")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _final(machine: StateMachine[CollectionStatus] | StateMachine[PayoutStatus]) -> str:
    """The machine's final states, in declaration order, as ``status IN (…)``."""
    return _in("status", tuple(state.value for state in machine.states if state in machine.final))


def _open(machine: StateMachine[CollectionStatus] | StateMachine[PayoutStatus]) -> sa.TextClause:
    """The predicate of the partial index of the rows reconciliation still has to finish."""
    return sa.text(_in("status", tuple(state.value for state in machine.open)))


def _search_indexes(table: str, *, email: str | None, phone_required: bool) -> tuple[sa.Index, ...]:
    """What operator search reads (``sika.search.repository``, docs/support.md): the provider's
    reference, the Idempotency-Key (the unique constraint leads with ``created_by``, which a
    search does not know), a whole phone, its last digits as a prefix of the reversed number,
    an email in any case, and an amount read newest first. Migration ``0012`` builds them."""
    phone_rows = None if phone_required else sa.text("phone IS NOT NULL")
    indexes = (
        sa.Index(
            f"ix_{table}_provider_reference",
            "provider_reference",
            postgresql_where=sa.text("provider_reference IS NOT NULL"),
        ),
        sa.Index(
            f"ix_{table}_idempotency_key", "idempotency_key", postgresql_where=sa.text("idempotency_key IS NOT NULL")
        ),
        sa.Index(f"ix_{table}_phone", "phone", postgresql_where=phone_rows),
        sa.Index(
            f"ix_{table}_phone_reversed",
            sa.func.reverse(sa.literal_column("phone")).label("phone_reversed"),
            postgresql_ops={"phone_reversed": "text_pattern_ops"},
            postgresql_where=phone_rows,
        ),
        sa.Index(f"ix_{table}_amount", "amount_minor", "created_at"),
    )
    return indexes + ((sa.Index(f"ix_{table}_email", sa.text(f"lower({email})")),) if email else ())


class Collection(PlatformOwned, Base):
    __tablename__ = "payments_collections"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        sa.CheckConstraint(_in("status", COLLECTION_STATUSES), name="status"),
        sa.CheckConstraint(_in("method", METHODS), name="method"),
        sa.CheckConstraint(f"operator IS NULL OR {_in('operator', OPERATORS)}", name="operator"),
        sa.CheckConstraint(
            "(method = 'mobile_money') = (operator IS NOT NULL AND phone IS NOT NULL)",
            name="mobile_money_whole",
        ),
        sa.CheckConstraint(r"phone IS NULL OR phone ~ '^\+[1-9][0-9]{6,14}$'", name="phone_e164"),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_alpha2"),
        sa.CheckConstraint(f"provider IS NULL OR {_in('provider', PROVIDERS)}", name="provider"),
        sa.CheckConstraint(f"next_action IS NULL OR {_in('next_action', NEXT_ACTIONS)}", name="next_action"),
        sa.CheckConstraint(
            f"(status = '{CollectionStatus.action_required.value}') = (next_action IS NOT NULL)",
            name="action_iff_required",
        ),
        sa.CheckConstraint(
            f"(status = '{CollectionStatus.succeeded.value}') = (credit_transfer_id IS NOT NULL)",
            name="credited_iff_succeeded",
        ),
        sa.CheckConstraint(f"({_final(COLLECTION_STATES)}) = (completed_at IS NOT NULL)", name="completed_iff_final"),
        sa.CheckConstraint("char_length(customer_email) BETWEEN 3 AND 254", name="customer_email_length"),
        sa.CheckConstraint("char_length(description) <= 500", name="description_length"),
        sa.CheckConstraint("char_length(provider_reference) BETWEEN 1 AND 200", name="provider_reference_length"),
        sa.CheckConstraint("char_length(display_text) <= 500", name="display_text_length"),
        sa.CheckConstraint("char_length(redirect_url) <= 2000", name="redirect_url_length"),
        sa.CheckConstraint("char_length(return_url) <= 2000", name="return_url_length"),
        sa.CheckConstraint("char_length(card_token) BETWEEN 1 AND 200", name="card_token_length"),
        sa.CheckConstraint("char_length(failure_code) BETWEEN 1 AND 100", name="failure_code_length"),
        sa.CheckConstraint("char_length(failure_message) <= 500", name="failure_message_length"),
        sa.CheckConstraint("char_length(idempotency_key) BETWEEN 1 AND 255", name="idempotency_key_length"),
        # One Idempotency-Key makes at most one collection, even after its stored answer expired.
        sa.UniqueConstraint("created_by", "idempotency_key", name="uq_payments_collections_idempotency"),
        sa.Index("ix_payments_collections_party", "party_id", "seq"),
        sa.Index("ix_payments_collections_platform", "platform_id", "seq"),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_collections_party_platform"
        ),
        sa.Index("ix_payments_collections_wallet", "wallet_id", "seq"),
        sa.Index("ix_payments_collections_open", "last_checked_at", postgresql_where=_open(COLLECTION_STATES)),
        *_search_indexes("payments_collections", email="customer_email", phone_required=False),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Creation order; the cursor for listing."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``col_…``; also the reference every provider is given, so a retry never charges twice."""
    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its party's platform (a composite foreign key says so)."""
    """The wallet credited when the collection succeeds."""
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    method: Mapped[str] = mapped_column(sa.String(16))
    """``mobile_money`` or ``card``."""
    operator: Mapped[str | None] = mapped_column(sa.String(16))
    """``orange``, ``mtn``, ``moov`` or ``wave``, for mobile money."""
    phone: Mapped[str | None] = mapped_column(sa.String(16))
    """The customer's mobile-money number (E.164)."""
    country: Mapped[str] = mapped_column(sa.String(2))
    """Where the customer's mobile money lives (ISO 3166-1 alpha-2)."""
    customer_email: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text, server_default="")
    return_url: Mapped[str | None] = mapped_column(sa.Text)
    """Where a redirect flow sends the customer back."""
    card_token: Mapped[str | None] = mapped_column(sa.Text)
    """The provider's token for the card (Stripe ``pm_…``, never a card number): kept so
    reconciliation can replay a create whose answer was lost with the very same parameters."""
    status: Mapped[str] = mapped_column(sa.String(20))
    provider: Mapped[str | None] = mapped_column(sa.String(16))
    """Who took the collection; unknown until a provider answers (the route may fail over)."""
    provider_reference: Mapped[str | None] = mapped_column(sa.Text)
    """The provider's id for the charge."""
    next_action: Mapped[str | None] = mapped_column(sa.String(20))
    """While ``action_required``: ``submit_otp``, ``approve_on_phone`` or ``redirect``."""
    display_text: Mapped[str | None] = mapped_column(sa.Text)
    """What to show the customer, in the provider's words."""
    redirect_url: Mapped[str | None] = mapped_column(sa.Text)
    failure_code: Mapped[str | None] = mapped_column(sa.String(100))
    failure_message: Mapped[str | None] = mapped_column(sa.Text)
    reported_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    """What the provider said it collected, when it differed from ``amount_minor``."""
    reported_currency: Mapped[str | None] = mapped_column(sa.String(3))
    credit_transfer_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("ledger_transfers.id"))
    """The ledger transfer (provider clearing → wallet) that credited the wallet; set once."""
    created_by: Mapped[str] = mapped_column(sa.String(100))
    """The actor that asked for it: ``key:<id>`` or ``party:<id>``."""
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    """When it reached a final state."""
    last_checked_at: Mapped[datetime | None]
    """When reconciliation last asked the provider about it."""


class Payout(PlatformOwned, Base):
    __tablename__ = "payments_payouts"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        sa.CheckConstraint(_in("status", PAYOUT_STATUSES), name="status"),
        sa.CheckConstraint(_in("operator", OPERATORS), name="operator"),
        sa.CheckConstraint(r"phone ~ '^\+[1-9][0-9]{6,14}$'", name="phone_e164"),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_alpha2"),
        sa.CheckConstraint(_in("provider", PROVIDERS), name="provider"),
        sa.CheckConstraint(f"({_final(PAYOUT_STATES)}) = (completed_at IS NOT NULL)", name="completed_iff_final"),
        sa.CheckConstraint("char_length(recipient_name) BETWEEN 1 AND 200", name="recipient_name_length"),
        sa.CheckConstraint("char_length(reason) <= 500", name="reason_length"),
        sa.CheckConstraint("char_length(provider_reference) BETWEEN 1 AND 200", name="provider_reference_length"),
        sa.CheckConstraint("char_length(failure_code) BETWEEN 1 AND 100", name="failure_code_length"),
        sa.CheckConstraint("char_length(failure_message) <= 500", name="failure_message_length"),
        sa.CheckConstraint("char_length(idempotency_key) BETWEEN 1 AND 255", name="idempotency_key_length"),
        sa.UniqueConstraint("created_by", "idempotency_key", name="uq_payments_payouts_idempotency"),
        sa.Index("ix_payments_payouts_party", "party_id", "seq"),
        sa.Index("ix_payments_payouts_platform", "platform_id", "seq"),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_payouts_party_platform"
        ),
        sa.Index("ix_payments_payouts_wallet", "wallet_id", "seq"),
        sa.Index("ix_payments_payouts_open", "last_checked_at", postgresql_where=_open(PAYOUT_STATES)),
        *_search_indexes("payments_payouts", email=None, phone_required=True),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``po_…``; also the provider's reference and idempotency key for the transfer."""
    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its party's platform (a composite foreign key says so)."""
    """The wallet debited."""
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    operator: Mapped[str] = mapped_column(sa.String(16))
    phone: Mapped[str] = mapped_column(sa.String(16))
    """The mobile-money number credited (E.164)."""
    country: Mapped[str] = mapped_column(sa.String(2))
    recipient_name: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text, server_default="")
    status: Mapped[str] = mapped_column(sa.String(20))
    provider: Mapped[str] = mapped_column(sa.String(16))
    """Payouts do not fail over: the provider is chosen before the call and kept."""
    provider_reference: Mapped[str | None] = mapped_column(sa.Text)
    hold_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("ledger_transfers.id"), unique=True)
    """The wallet hold placed for the amount: captured on success, released on failure or reversal."""
    reversal_transfer_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("ledger_transfers.id"))
    """When a payout is reversed after its hold was captured: the transfer that gave the money back."""
    failure_code: Mapped[str | None] = mapped_column(sa.String(100))
    failure_message: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]


class ProviderCall(PlatformOwned, Base):
    """One request Sika sent a provider for a collection or a payout, and its answer,
    redacted before it was stored (``sika.providers.calls.redact``). Written in the
    transaction of the phase that follows the call; read by the payment's timeline."""

    __tablename__ = "payments_provider_calls"
    __table_args__ = (
        sa.CheckConstraint("entity_type IN ('collection', 'payout')", name="entity_type"),
        sa.CheckConstraint("duration_ms >= 0", name="duration_positive"),
        sa.Index("ix_payments_provider_calls_entity", "entity_id", "seq"),
        sa.Index("ix_payments_provider_calls_platform", "platform_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """The payment's platform."""
    entity_type: Mapped[str] = mapped_column(sa.String(16))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    """The collection or payout it was for."""
    provider: Mapped[str] = mapped_column(sa.String(16))
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.Text)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status_code: Mapped[int | None]
    """None: no answer came (refused connection, timeout)."""
    response: Mapped[Any] = mapped_column(JSONB, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int]
