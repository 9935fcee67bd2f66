"""The shape of a search's answer: one group per kind, each newest first."""

from __future__ import annotations

from datetime import datetime

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
