"""The shapes of a search's answer (one group per kind, each newest first) and of a timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Hit(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    state: str | None = Field(
        description="Its status (a hold: open, captured, released or expired); a wallet has none."
    )
    amount_minor: int | None = Field(
        description="A payment's or hold's amount, a wallet's available balance; none for a party or a webhook event."
    )
    currency: str | None
    created_at: datetime = Field(description="When it was made; a webhook event, when it was received.")
    platform_id: str | None
    party_id: str | None
    wallet_id: str | None


class Group(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    data: list[Hit]
    more: bool = Field(description="More matched than are shown: narrow the query (an amount, a date window).")


class SearchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    understood_as: list[str] = Field(
        description="How the query was read: id:<kind>, email, phone, phone_suffix, reference, amount."
    )
    parties: Group
    wallets: Group
    collections: Group
    payouts: Group
    holds: Group
    webhook_events: Group
    escrows: Group
    proofs: Group
    mandates: Group
    transfers: Group
    webhook_deliveries: Group
    promo_codes: Group
    instalment_plans: Group
    instalments: Group


class _PaymentSummary(BaseModel):
    """What a collection and a payout both show: the row as it stands now."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    state: str = Field(validation_alias="status")
    amount_minor: int
    currency: str
    provider_reference: str | None
    failure_code: str | None
    failure_message: str | None
    party_id: str
    wallet_id: str
    platform_id: str
    created_at: datetime
    completed_at: datetime | None
    last_checked_at: datetime | None = Field(description="When reconciliation last asked the provider.")


class CollectionSummary(_PaymentSummary):
    """The collection as its row stands now, with the provider's answers Sika kept."""

    method: str
    operator: str | None
    provider: str | None
    next_action: str | None


class PayoutSummary(_PaymentSummary):
    """The payout as its row stands now, with the provider's answers Sika kept."""

    operator: str
    provider: str
    hold_id: str = Field(description="The wallet hold placed for the amount.")
    reversal_transfer_id: str | None = Field(description="The transfer that gave the money back, if reversed.")


class Cause(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    actor: str = Field(description="key:<id> (an API call), party:<id>, system:<job> (a worker's job), cli.")
    request_id: str | None
    source: str | None = Field(description="Where the news came from: api, webhook or reconciliation.")


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str = Field(
        description="state_change, webhook_received, ledger_transfer, alert, audit, provider_checked, "
        "provider_call or linked (a party's collection, payout or escrow)."
    )
    id: str | None = Field(description="The webhook event, ledger transfer, alert or linked object it shows.")
    state: str | None
    action: str | None
    cause: Cause | None
    details: dict[str, Any]


class TimelineOut(BaseModel):
    collection: CollectionSummary
    entries: list[TimelineEntry] = Field(description="Oldest first.")


class PayoutTimelineOut(BaseModel):
    payout: PayoutSummary
    entries: list[TimelineEntry] = Field(description="Oldest first.")


class HoldSummary(BaseModel):
    """The hold as it stands now."""

    id: str
    state: str = Field(description="open, captured, released or expired.")
    amount_minor: int
    currency: str
    wallet_id: str
    party_id: str
    platform_id: str
    owner_type: str = Field(description="api (the holds API) or the domain whose object placed it (payout…).")
    owner_id: str | None
    captured_minor: int
    returned_minor: int
    created_at: datetime
    expires_at: datetime | None
    resolved_at: datetime | None


class WalletSummary(BaseModel):
    """The wallet and its money now."""

    id: str
    party_id: str
    platform_id: str
    currency: str
    balance_minor: int
    held_minor: int
    available_minor: int
    account_id: str
    holds_account_id: str
    created_at: datetime


class PartySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    platform_id: str
    display_name: str
    type: str
    country: str
    state: str = Field(validation_alias="status")
    email: str | None
    phone: str | None
    created_at: datetime


class HoldTimelineOut(BaseModel):
    hold: HoldSummary
    entries: list[TimelineEntry] = Field(description="Oldest first.")


class _BoundedTimeline(BaseModel):
    entries: list[TimelineEntry] = Field(description="Newest first, at most ``limit``.")
    limit: int = Field(description="The most entries shown (the ``limit`` asked, 50 unless said).")
    truncated: bool = Field(description="Older entries exist than those shown.")


class WalletTimelineOut(_BoundedTimeline):
    wallet: WalletSummary


class PartyTimelineOut(_BoundedTimeline):
    party: PartySummary
    wallet_ids: list[str]
