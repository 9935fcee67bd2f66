"""New transfers, posted or pending: one in the caller's transaction
(``create_transfer``, the transfers API's path too), several all or nothing
(``create_journal_entry``), or one committed on its own with the transfers
that arrive at the same time (``submit_transfer``, the grouped path for
in-process bulk work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sika.core import errors, ids
from sika.core.context import Actor
from sika.ledger import batcher, repository
from sika.ledger.service import reach, writer
from sika.ledger.service.errors import InvalidTransfer, LedgerBusy
from sika.ledger.service.validation import check_transfer_id
from sika.ledger.service.values import JournalEntry, Leg, TransferRecord

log = structlog.get_logger(__name__)

MAX_JOURNAL_LEGS = 64
"""A journal entry applies at most this many transfers at once."""
RETRY_AFTER_SECONDS = 1
"""What a ``LedgerBusy`` answer tells the caller to wait before trying again."""


async def create_transfer(
    session: AsyncSession,
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount_minor: int,
    currency: str,
    code: str,
    pending: bool = False,
    timeout_seconds: int | None = None,
    transfer_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    allow_managed: bool = True,
    now: datetime,
    actor: Actor,
) -> TransferRecord:
    """Move ``amount_minor`` from ``debit_account_id`` to ``credit_account_id``
    in the caller's transaction; with ``pending`` only reserve it (a hold),
    until ``post_pending``, ``void_pending`` or its ``timeout_seconds``.

    The same ``transfer_id`` with the same content returns the original
    (``replayed``); with other content raises ``TransferExists``. A refusal
    raises its error and writes nothing. The connection lost under it is
    ``LedgerBusy``: the transaction is gone with it, so nothing was written
    and the caller may try again after ``RETRY_AFTER_SECONDS``."""
    request = writer.transfer_request(
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount_minor=amount_minor,
        currency=currency,
        code=code,
        pending=pending,
        timeout_seconds=timeout_seconds,
        transfer_id=transfer_id,
        metadata=metadata,
        journal_id=None,
        actor=actor,
        allow_managed=allow_managed,
    )
    try:
        if not allow_managed:
            await reach.check_accounts(session, actor=actor, account_ids=(debit_account_id, credit_account_id))
        (row,) = await writer.apply(session, [request], now=now, atomic=True)
    except sa.exc.OperationalError as exc:
        raise LedgerBusy(retry_after_seconds=RETRY_AFTER_SECONDS) from exc
    return writer.record_of(row)


async def create_journal_entry(
    session: AsyncSession,
    *,
    legs: Sequence[Leg],
    journal_id: str | None = None,
    allow_managed: bool = True,
    now: datetime,
    actor: Actor,
) -> JournalEntry:
    """Apply several transfers all or nothing, in order (each leg sees the
    ones before it). A refusal raises the failing leg's error with
    ``extra["leg"]`` (0-based) and writes nothing."""
    if not 1 <= len(legs) <= MAX_JOURNAL_LEGS:
        raise InvalidTransfer(f"A journal entry has 1 to {MAX_JOURNAL_LEGS} legs.")
    entry_id = check_transfer_id(journal_id) if journal_id is not None else ids.new_id("jrn")
    requests = []
    for index, leg in enumerate(legs):
        try:
            requests.append(
                writer.transfer_request(
                    debit_account_id=leg.debit_account_id,
                    credit_account_id=leg.credit_account_id,
                    amount_minor=leg.amount_minor,
                    currency=leg.currency,
                    code=leg.code,
                    pending=leg.pending,
                    timeout_seconds=leg.timeout_seconds,
                    transfer_id=leg.transfer_id,
                    metadata=leg.metadata,
                    journal_id=entry_id,
                    actor=actor,
                    allow_managed=allow_managed,
                )
            )
        except errors.SikaError as exc:
            raise type(exc)(f"Leg {index}: {exc.detail}", leg=index) from None
    if len({r.id for r in requests}) != len(requests):
        raise InvalidTransfer("The legs of a journal entry need distinct transfer ids.")
    if not allow_managed:
        await reach.check_accounts(
            session,
            actor=actor,
            account_ids=[account for leg in legs for account in (leg.debit_account_id, leg.credit_account_id)],
        )
    rows = await writer.apply(session, requests, now=now, atomic=True)
    for index, row in enumerate(rows):
        if row.error_code is not None:
            raise writer.error_of(row, leg=index)
    return JournalEntry(id=entry_id, transfers=tuple(writer.record_of(row) for row in rows))


async def submit_transfer(
    engine: AsyncEngine,
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount_minor: int,
    currency: str,
    code: str,
    pending: bool = False,
    timeout_seconds: int | None = None,
    transfer_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    allow_managed: bool = True,
    now: datetime,
    actor: Actor,
) -> TransferRecord:
    """Like ``create_transfer``, but committed on its own, grouped with the
    transfers that arrive at the same time (one transaction, one round trip).
    Returns once the transfer is durable; raises its refusal otherwise.

    A transfer the database refused on its own (the group isolates it) for
    its data is ``InvalidTransfer``; any other database failure is
    ``LedgerBusy``, to retry after ``RETRY_AFTER_SECONDS``."""
    request = writer.transfer_request(
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount_minor=amount_minor,
        currency=currency,
        code=code,
        pending=pending,
        timeout_seconds=timeout_seconds,
        transfer_id=transfer_id,
        metadata=metadata,
        journal_id=None,
        actor=actor,
        allow_managed=allow_managed,
    )
    if not allow_managed:
        await reach.check_accounts(engine, actor=actor, account_ids=(debit_account_id, credit_account_id))
    try:
        row = await batcher.for_engine(engine).submit(request, now=now)
    except batcher.ITEM_DATA_ERRORS as exc:
        # Every check above passed, yet the database could not take this
        # transfer's values: a check is missing, but the input is still bad.
        log.warning("ledger_transfer_unstorable", transfer_id=request.id, error=str(exc))
        raise InvalidTransfer("The ledger cannot store this transfer's values.", transfer_id=request.id) from exc
    except psycopg.Error as exc:
        raise LedgerBusy(retry_after_seconds=RETRY_AFTER_SECONDS) from exc
    return writer.record_of(row)


async def apply_in_order(
    session: AsyncSession, *, requests: Sequence[repository.TransferRequest], now: datetime
) -> list[repository.AppliedRow]:
    """Apply requests made by ``transfer_request`` and ``resolution_request`` all or
    nothing, in order, in the caller's transaction and one call of the database
    function: each sees the ones before it (a pending transfer posted, then what
    pays it on), and every account they touch is locked at once, in the ledger's
    order, so a caller needs no ``lock_accounts`` first. The answer has one row
    per request; at the first refusal nothing is written and the caller names it
    (``error_of``), since only the caller knows what its requests stand for. The
    connection lost under it is ``LedgerBusy``."""
    try:
        return await writer.apply(session, requests, now=now, atomic=True)
    except sa.exc.OperationalError as exc:
        raise LedgerBusy(retry_after_seconds=RETRY_AFTER_SECONDS) from exc
