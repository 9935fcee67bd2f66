"""The one way into ``ledger_apply_transfers`` from a caller's transaction:
calls become checked requests, the function's rows become transfer records or
the errors they name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors, ids, money
from sika.core.context import Actor
from sika.ledger import repository
from sika.ledger.models import RESOLUTION_KINDS
from sika.ledger.service.errors import ERRORS_BY_CODE, InvalidTransfer, TransferInFlight
from sika.ledger.service.validation import (
    check_account_id,
    check_amount,
    check_code,
    check_metadata,
    check_timeout,
    check_transfer_id,
)
from sika.ledger.service.values import TransferRecord

_RACED_CONSTRAINTS = frozenset({"pk_ledger_transfers", "uq_ledger_transfers_pending_id"})


def transfer_request(
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount_minor: int,
    currency: str,
    code: str,
    pending: bool,
    timeout_seconds: int | None,
    transfer_id: str | None,
    metadata: dict[str, Any] | None,
    journal_id: str | None,
    actor: Actor,
    allow_managed: bool = True,
) -> repository.TransferRequest:
    """A validated new transfer (posted or pending); raises on what needs no database to refuse.
    Without ``allow_managed``, the database refuses it on a managed account."""
    money.check_currency(currency)
    return repository.TransferRequest(
        id=check_transfer_id(transfer_id) if transfer_id is not None else ids.new_id("xfr"),
        id_generated=transfer_id is None,
        kind="pending" if pending else "posted",
        debit_account_id=check_account_id(debit_account_id),
        credit_account_id=check_account_id(credit_account_id),
        amount_minor=check_amount(amount_minor),
        currency=currency,
        code=check_code(code),
        pending_id=None,
        timeout_seconds=check_timeout(timeout_seconds, pending=pending),
        metadata=check_metadata(metadata),
        journal_id=journal_id,
        actor_id=actor.id,
        request_id=actor.request_id,
        refuse_managed=not allow_managed,
    )


def resolution_request(
    *,
    kind: str,
    pending_id: str,
    amount_minor: int | None,
    transfer_id: str | None,
    code: str | None,
    metadata: dict[str, Any] | None,
    actor: Actor,
    allow_managed: bool = True,
) -> repository.TransferRequest:
    assert kind in RESOLUTION_KINDS
    return repository.TransferRequest(
        id=check_transfer_id(transfer_id) if transfer_id is not None else ids.new_id("xfr"),
        id_generated=transfer_id is None,
        kind=kind,
        debit_account_id=None,
        credit_account_id=None,
        amount_minor=check_amount(amount_minor) if amount_minor is not None else None,
        currency=None,
        code=check_code(code) if code is not None else None,
        pending_id=check_transfer_id(pending_id),
        timeout_seconds=None,
        metadata=check_metadata(metadata),
        journal_id=None,
        actor_id=actor.id,
        request_id=actor.request_id,
        refuse_managed=not allow_managed,
    )


def record_of(row: repository.AppliedRow) -> TransferRecord:
    """The transfer an accepted row describes; raises the row's refusal."""
    if row.error_code is not None:
        raise error_of(row)
    assert row.debit_account_id is not None
    assert row.credit_account_id is not None
    assert row.amount_minor is not None
    assert row.currency is not None
    assert row.code is not None
    return TransferRecord(
        id=row.id,
        kind=row.kind,
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        code=row.code,
        pending_id=row.pending_id,
        timeout_seconds=row.timeout_seconds,
        expires_at=row.expires_at,
        journal_id=row.journal_id,
        metadata=row.metadata,
        created_at=row.created_at,
        replayed=row.replayed,
    )


def error_of(row: repository.AppliedRow, *, leg: int | None = None) -> errors.SikaError:
    assert row.error_code is not None
    cls = ERRORS_BY_CODE.get(row.error_code, InvalidTransfer)
    extra: dict[str, Any] = {"transfer_id": row.id}
    detail = row.error_detail
    if leg is not None:
        extra["leg"] = leg
        detail = f"Leg {leg}: {detail}"
    return cls(detail, **extra)


async def apply(
    session: AsyncSession,
    requests: Sequence[repository.TransferRequest],
    *,
    now: datetime,
    atomic: bool,
) -> list[repository.AppliedRow]:
    """Apply the requests in the caller's transaction, in order; with ``atomic``
    the first refusal stops them all and nothing is written."""
    try:
        return await repository.apply_transfers(session, requests, now=now, atomic=atomic)
    except sa.exc.IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if constraint in _RACED_CONSTRAINTS:
            # Another transaction wrote the same transfer id (or resolved the
            # same pending transfer) between our check and our insert.
            raise TransferInFlight() from exc
        raise
