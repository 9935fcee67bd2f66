"""The ledger over HTTP: accounts, transfers, journal entries, pending
transfers posted or voided, balances. Writes need ``platform``; reads
``platform``, ``support`` or ``read``.

Accounts a domain opened (wallets and their holds, funding, fees, provider
clearing: ``is_managed``) can be read here, but every write below refuses to
move money on them or to close them (409 ``account_managed``): their money
moves only through their domain's API, which enforces its rules (a suspended
party, a hold captured or released, a payout's hold)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response

from sika.api.deps import Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.ledger import schemas
from sika.ledger import service as ledger_service

router = APIRouter(prefix="/ledger", tags=["ledger"], route_class=UnitOfWorkRoute)
writer = authorize(Scope.platform)
Writer = Annotated[Actor, Depends(writer)]
WriterClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(writer))]
MoneyClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(writer, required=True))]
Reader = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read))]


# The router's first route: FastAPI tries them in order, and platforms call this one most.
@router.post(
    "/transfers",
    status_code=201,
    response_model=schemas.TransferOut,
    responses={200: {"description": "The same transfer id and content was sent before: the original."}},
)
async def create_transfer(
    body: schemas.TransferCreate, response: Response, session: Session, actor: Writer, claim: MoneyClaim
) -> schemas.TransferOut:
    """One transfer, in the request's own transaction: the key's claim, the
    transfer and the answer stored under the key commit together or not at
    all. (Over HTTP the grouped path gathered about one transfer per group,
    so it only added a second connection and a second commit.) Without an
    ``id``, one is derived from the Idempotency-Key when there is one, so a
    retry after a lost answer finds the transfer instead of making a second one."""
    transfer = await ledger_service.create_transfer(
        session,
        debit_account_id=body.debit_account_id,
        credit_account_id=body.credit_account_id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        code=body.code,
        pending=body.pending,
        timeout_seconds=body.timeout_seconds,
        transfer_id=body.id
        or (ledger_service.transfer_id_for_key(owner=claim.owner, key=claim.key) if claim else None),
        metadata=body.metadata,
        allow_managed=False,
        now=clock.now(),
        actor=actor,
    )
    if transfer.replayed:
        response.status_code = 200
    return schemas.TransferOut.model_validate(transfer)


@router.post("/accounts", status_code=201, response_model=schemas.AccountOut)
async def create_account(
    body: schemas.AccountCreate, session: Session, actor: Writer, claim: WriterClaim
) -> schemas.AccountOut:
    account = await ledger_service.create_account(
        session,
        currency=body.currency,
        kind=body.kind,
        owner_type=body.owner_type,
        owner_id=body.owner_id,
        debits_must_not_exceed_credits=body.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=body.credits_must_not_exceed_debits,
        platform_id=actor.platform_id,
        now=clock.now(),
        actor=actor,
    )
    return schemas.AccountOut.model_validate(account)


@router.get("/accounts", response_model=schemas.AccountPage)
async def list_accounts(
    session: Session,
    actor: Reader,
    page: Page,
    owner_type: str | None = None,
    owner_id: str | None = None,
    currency: str | None = None,
    kind: str | None = None,
) -> schemas.AccountPage:
    accounts = await ledger_service.list_accounts(
        session,
        owner_type=owner_type,
        owner_id=owner_id,
        currency=currency,
        kind=kind,
        after_seq=page.after,
        limit=page.limit,
        newest_first=True,
    )
    return schemas.AccountPage(
        data=[schemas.AccountOut.model_validate(a) for a in accounts], next_cursor=next_cursor(accounts, page.limit)
    )


@router.get("/accounts/{account_id}", response_model=schemas.AccountOut)
async def get_account(account_id: str, session: Session, actor: Reader) -> schemas.AccountOut:
    account = await ledger_service.get_account(session, account_id=account_id)
    return schemas.AccountOut.model_validate(account)


@router.post("/accounts/{account_id}/close", response_model=schemas.AccountOut)
async def close_account(account_id: str, session: Session, actor: Writer, claim: WriterClaim) -> schemas.AccountOut:
    account = await ledger_service.close_account(
        session, account_id=account_id, allow_managed=False, now=clock.now(), actor=actor
    )
    return schemas.AccountOut.model_validate(account)


@router.get("/accounts/{account_id}/balance", response_model=schemas.BalanceOut)
async def get_balance(account_id: str, session: Session, actor: Reader) -> schemas.BalanceOut:
    balance = await ledger_service.get_balance(session, account_id=account_id)
    return schemas.BalanceOut.model_validate(balance)


@router.get("/accounts/{account_id}/transfers", response_model=schemas.TransferPage)
async def list_account_transfers(
    account_id: str,
    session: Session,
    actor: Reader,
    page: Page,
    side: Literal["debit", "credit"] | None = None,
    kind: Literal["posted", "pending", "post_pending", "void_pending", "expire_pending"] | None = None,
    code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> schemas.TransferPage:
    transfers = await ledger_service.list_account_transfers(
        session,
        account_id=account_id,
        side=side,
        kind=kind,
        code=code,
        since=since,
        until=until,
        before_seq=page.after,
        limit=page.limit,
    )
    return schemas.TransferPage(
        data=[schemas.TransferOut.model_validate(t) for t in transfers], next_cursor=next_cursor(transfers, page.limit)
    )


@router.post("/journal-entries", status_code=201, response_model=schemas.JournalEntryOut)
async def create_journal_entry(
    body: schemas.JournalEntryCreate, session: Session, actor: Writer, claim: MoneyClaim
) -> schemas.JournalEntryOut:
    """Several transfers, all or nothing; a refusal names the failing leg (0-based)."""
    entry = await ledger_service.create_journal_entry(
        session,
        legs=[
            ledger_service.Leg(
                debit_account_id=leg.debit_account_id,
                credit_account_id=leg.credit_account_id,
                amount_minor=leg.amount_minor,
                currency=leg.currency,
                code=leg.code,
                pending=leg.pending,
                timeout_seconds=leg.timeout_seconds,
                transfer_id=leg.id,
                metadata=leg.metadata,
            )
            for leg in body.transfers
        ],
        journal_id=body.id,
        allow_managed=False,
        now=clock.now(),
        actor=actor,
    )
    return schemas.JournalEntryOut(
        id=entry.id, transfers=[schemas.TransferOut.model_validate(t) for t in entry.transfers]
    )


@router.get("/transfers/{transfer_id}", response_model=schemas.TransferOut)
async def get_transfer(transfer_id: str, session: Session, actor: Reader) -> schemas.TransferOut:
    transfer = await ledger_service.get_transfer(session, transfer_id=transfer_id)
    return schemas.TransferOut.model_validate(transfer)


@router.post("/transfers/{transfer_id}/post", status_code=201, response_model=schemas.TransferOut)
async def post_pending(
    transfer_id: str, body: schemas.PostPending, session: Session, actor: Writer, claim: MoneyClaim
) -> schemas.TransferOut:
    transfer = await ledger_service.post_pending(
        session,
        pending_id=transfer_id,
        amount_minor=body.amount_minor,
        transfer_id=body.id,
        metadata=body.metadata,
        allow_managed=False,
        now=clock.now(),
        actor=actor,
    )
    return schemas.TransferOut.model_validate(transfer)


@router.post("/transfers/{transfer_id}/void", status_code=201, response_model=schemas.TransferOut)
async def void_pending(
    transfer_id: str, body: schemas.VoidPending, session: Session, actor: Writer, claim: MoneyClaim
) -> schemas.TransferOut:
    transfer = await ledger_service.void_pending(
        session,
        pending_id=transfer_id,
        transfer_id=body.id,
        metadata=body.metadata,
        allow_managed=False,
        now=clock.now(),
        actor=actor,
    )
    return schemas.TransferOut.model_validate(transfer)
