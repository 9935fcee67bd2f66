"""HTTP shapes of the ledger. Amounts are integers in minor units."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field

from sika.core import money
from sika.ledger.service import validation as ledger_validation

AmountMinor = Annotated[int, Field(gt=0, le=money.MAX_AMOUNT_MINOR, strict=True)]
Currency = Annotated[str, Field(min_length=3, max_length=3, examples=["XOF"])]
# The patterns are checked by the service, which names what is wrong (422
# invalid_transfer); the document shows them so that clients and fuzzers know.
Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        examples=["wallet.top_up"],
        json_schema_extra={"pattern": f"^{ledger_validation.CODE_PATTERN}$"},
    ),
]
AccountId = Annotated[str, Field(json_schema_extra={"pattern": f"^{ledger_validation.ID_PATTERN}$"})]
ClientTransferId = Annotated[
    str, Field(min_length=1, max_length=64), AfterValidator(ledger_validation.check_client_transfer_id)
]
"""A transfer or journal entry id the caller chose. Every id the API takes
from a caller is this type: one that begins like a Sika id (``xfr_…``,
``col_….credit``) is refused with ``422 transfer_id_reserved`` as the body is
read, so no caller can take an id a domain will derive later."""
Metadata = Annotated[dict[str, Any], Field(max_length=32)]


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: Currency
    kind: Annotated[str, Field(min_length=1, max_length=50, examples=["wallet.available"])]
    owner_type: Annotated[str | None, Field(min_length=1, max_length=50)] = None
    owner_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    currency: str
    kind: str
    owner_type: str | None
    owner_id: str | None
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    is_managed: bool
    """Opened by a Sika domain: readable here, but only its domain's API moves money on it."""
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    version: int
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AccountPage(BaseModel):
    data: list[AccountOut]
    next_cursor: str | None


class BalanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_id: str
    currency: str
    posted_minor: int
    pending_minor: int
    available_minor: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    version: int


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ClientTransferId | None = None
    """Your own id for the transfer: sending it again with the same content returns the original.
    It may not begin like a Sika id (lowercase letters, ``_`` and 26 of a-z and 2-7: ``xfr_…``)."""
    debit_account_id: AccountId
    credit_account_id: AccountId
    amount_minor: AmountMinor
    currency: Currency
    code: Code
    pending: bool = False
    timeout_seconds: Annotated[int | None, Field(gt=0)] = None
    metadata: Metadata | None = None


class JournalEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ClientTransferId | None = None
    transfers: Annotated[list[TransferCreate], Field(min_length=1, max_length=64)]


class PostPending(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ClientTransferId | None = None
    amount_minor: AmountMinor | None = None
    """Omit to post the whole pending amount; less posts part and returns the rest."""
    metadata: Metadata | None = None


class VoidPending(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ClientTransferId | None = None
    metadata: Metadata | None = None


class TransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: str
    kind: Literal["posted", "pending", "post_pending", "void_pending", "expire_pending"]
    debit_account_id: str
    credit_account_id: str
    amount_minor: int
    currency: str
    code: str
    pending_id: str | None
    timeout_seconds: int | None
    expires_at: datetime | None
    journal_id: str | None
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    created_at: datetime


class TransferPage(BaseModel):
    data: list[TransferOut]
    next_cursor: str | None


class JournalEntryOut(BaseModel):
    id: str
    transfers: list[TransferOut]
