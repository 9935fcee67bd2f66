"""Collections and payouts: the business rules, phased around provider calls.

A flow that calls a provider never holds a transaction open across the call
(DESIGN.md §4 rule 1). It runs in phases, each its own transaction:

    1. record      the collection ``initiated`` (a payout also places its hold), commit
    2. call        the provider, no transaction open; our id is its reference
    3. record      the provider's answer, under the row lock

A crash between 1 and 3 leaves the row in its recorded state; the
reconciliation job asks the provider and finishes it. Every way news arrives
(the provider's answer, a webhook, a reconciliation lookup) becomes one
``Update`` applied by ``apply_collection_update`` / ``apply_payout_update``
under the row's lock, so the state moves forward only and money moves once:

* collection: initiated → action_required → processing → succeeded | failed |
  amount_mismatch. Succeeded credits the wallet from the provider's clearing
  account with a ledger transfer whose id is derived from the collection's, so
  even a second attempt could not credit twice.
* payout: initiated → processing → succeeded | failed, and succeeded →
  reversed. The hold placed in phase 1 is captured to the provider's clearing
  account on success, released on failure; a reversal after capture gives
  the money back with one transfer, a reversal before it releases the hold.
  The payout owns its hold (``hold_owner``): nothing but this flow may
  capture or release it, so ``/v1/holds`` cannot take its money elsewhere.

A news item that would move a state backwards (a late or out-of-order
webhook) changes nothing. One that contradicts a final state (the provider
says succeeded, Sika has failed) changes nothing either and raises an alert:
an operator decides. A success whose amount or currency differs from the
collection's credits nothing, marks it ``amount_mismatch`` and raises a
critical alert.

Row locks are taken in one order everywhere: webhook event, then the
collection or payout, then ledger accounts (ascending id, by the ledger).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.audit import service as audit_service
from sika.core import db, errors, ids
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.events import service as events_service
from sika.ledger import service as ledger_service
from sika.parties import models as parties_models
from sika.parties import service as parties_service
from sika.payments import repository, schemas
from sika.payments.models import Collection, Payout
from sika.providers import base as provider_base
from sika.providers import errors as provider_errors
from sika.providers import events as provider_events
from sika.providers import failover
from sika.wallets import models as wallets_models
from sika.wallets import service as wallets_service

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
"""Phased flows read the time at each phase: a provider call may take seconds."""

CLEARING_ACCOUNT_KIND = "provider.clearing"
RECONCILE_BATCH_SIZE = 100
"""Collections (and payouts) checked with their provider per reconciliation run."""
MAX_TEXT = 500


# Errors ---------------------------------------------------------------------


class CollectionNotFound(errors.NotFound):
    """No such collection."""

    code = "collection_not_found"


class PayoutNotFound(errors.NotFound):
    """No such payout."""

    code = "payout_not_found"


class WalletNotOfParty(errors.ValidationFailed):
    """The wallet does not belong to this party."""

    code = "wallet_not_of_party"


class WalletCurrencyMismatch(errors.ValidationFailed):
    """The wallet holds another currency."""

    code = "wallet_currency_mismatch"


class CustomerEmailRequired(errors.ValidationFailed):
    """The provider needs the customer's email: send ``email`` or give the party one."""

    code = "customer_email_required"


class CollectionNotAwaitingOtp(errors.Conflict):
    """The collection is not waiting for an OTP."""

    code = "collection_not_awaiting_otp"


class NoPayoutProvider(errors.ValidationFailed):
    """No provider is configured to pay out in this currency."""

    code = "no_payout_provider"


class IdempotencyKeyAlreadyUsed(errors.Conflict):
    """This Idempotency-Key already created a collection or payout (its stored answer has expired)."""

    code = "idempotency_key_already_used"


# States ---------------------------------------------------------------------

FINAL_COLLECTION_STATUSES = frozenset(
    {schemas.CollectionStatus.succeeded, schemas.CollectionStatus.failed, schemas.CollectionStatus.amount_mismatch}
)
FINAL_PAYOUT_STATUSES = frozenset(
    {schemas.PayoutStatus.succeeded, schemas.PayoutStatus.failed, schemas.PayoutStatus.reversed}
)
_COLLECTION_RANK = {
    schemas.CollectionStatus.initiated: 0,
    schemas.CollectionStatus.action_required: 1,
    schemas.CollectionStatus.processing: 2,
    schemas.CollectionStatus.succeeded: 3,
    schemas.CollectionStatus.failed: 3,
    schemas.CollectionStatus.amount_mismatch: 3,
}
_PAYOUT_RANK = {
    schemas.PayoutStatus.initiated: 0,
    schemas.PayoutStatus.processing: 1,
    schemas.PayoutStatus.succeeded: 2,
    schemas.PayoutStatus.failed: 2,
    schemas.PayoutStatus.reversed: 3,
}


class Source(StrEnum):
    """Where news about a collection or payout came from."""

    api = "api"
    """The provider's answer to our own call."""
    webhook = "webhook"
    reconciliation = "reconciliation"


@dataclass(frozen=True)
class CollectionUpdate:
    """News about a collection, whatever brought it."""

    source: Source
    provider: provider_base.ProviderName | None
    status: provider_base.CollectionStatus
    """``pending`` says nothing final: with a ``next_action`` the customer must act."""
    provider_reference: str | None = None
    next_action: provider_base.NextAction = provider_base.NextAction.none
    display_text: str | None = None
    redirect_url: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    detail: str | None = None
    """For logs: the provider's event or status word."""


@dataclass(frozen=True)
class PayoutUpdate:
    source: Source
    provider: provider_base.ProviderName
    status: provider_base.PayoutStatus
    provider_reference: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    detail: str | None = None


class Applied(StrEnum):
    """What an update did."""

    changed = "changed"
    unchanged = "unchanged"
    """Nothing new, or stale (it would have moved the state backwards)."""
    disagreement = "disagreement"
    """It contradicts a final state: alerted, nothing changed."""
    mismatch = "mismatch"
    """A success with another amount or currency: alerted, nothing credited."""


# Shapes ---------------------------------------------------------------------


def collection_out(collection: Collection) -> schemas.CollectionOut:
    next_action = None
    if collection.next_action is not None:
        next_action = schemas.NextActionOut(
            type=provider_base.NextAction(collection.next_action),
            display_text=collection.display_text,
            redirect_url=collection.redirect_url,
        )
    failure = None
    if collection.failure_code is not None:
        failure = schemas.Failure(code=collection.failure_code, message=collection.failure_message)
    return schemas.CollectionOut(
        id=collection.id,
        party_id=collection.party_id,
        wallet_id=collection.wallet_id,
        amount_minor=collection.amount_minor,
        currency=collection.currency,
        method=collection.method,
        operator=collection.operator,
        phone=collection.phone,
        country=collection.country,
        description=collection.description,
        status=schemas.CollectionStatus(collection.status),
        provider=collection.provider,
        provider_reference=collection.provider_reference,
        next_action=next_action,
        failure=failure,
        reported_amount_minor=collection.reported_amount_minor,
        reported_currency=collection.reported_currency,
        credit_transfer_id=collection.credit_transfer_id,
        created_at=collection.created_at,
        updated_at=collection.updated_at,
        completed_at=collection.completed_at,
    )


def payout_out(payout: Payout) -> schemas.PayoutOut:
    failure = None
    if payout.failure_code is not None:
        failure = schemas.Failure(code=payout.failure_code, message=payout.failure_message)
    return schemas.PayoutOut(
        id=payout.id,
        party_id=payout.party_id,
        wallet_id=payout.wallet_id,
        amount_minor=payout.amount_minor,
        currency=payout.currency,
        operator=payout.operator,
        phone=payout.phone,
        country=payout.country,
        recipient_name=payout.recipient_name,
        reason=payout.reason,
        status=schemas.PayoutStatus(payout.status),
        provider=payout.provider,
        provider_reference=payout.provider_reference,
        hold_id=payout.hold_id,
        reversal_transfer_id=payout.reversal_transfer_id,
        failure=failure,
        created_at=payout.created_at,
        updated_at=payout.updated_at,
        completed_at=payout.completed_at,
    )


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT]


def clearing_account_id(provider: provider_base.ProviderName | str, currency: str) -> str:
    """The ledger account of what ``provider`` owes us (or we owe it) in ``currency``."""
    return f"clearing.{provider_base.ProviderName(provider).value}.{currency}"


async def _clearing_account(
    session: AsyncSession, *, provider: provider_base.ProviderName | str, currency: str, now: datetime, actor: Actor
) -> str:
    account = await ledger_service.ensure_account(
        session,
        account_id=clearing_account_id(provider, currency),
        currency=currency,
        kind=CLEARING_ACCOUNT_KIND,
        managed=True,
        now=now,
        actor=actor,
    )
    return account.id


# Collections ------------------------------------------------------------------


async def create_collection(
    phases: Phases,
    *,
    body: schemas.CollectionCreate,
    providers: failover.CollectionRouter,
    idempotency_key: str | None,
    actor: Actor,
    clock: Clock,
) -> Collection:
    """Start a collection and return it as the provider's answer left it:
    ``action_required`` with what the customer must do, ``processing``,
    ``succeeded`` (the wallet credited) or ``failed``."""
    session = phases.first
    now = clock()
    party, wallet = await _party_and_wallet(
        session, party_id=body.party_id, wallet_id=body.wallet_id, currency=body.currency, actor=actor
    )
    method = provider_base.PaymentMethod(body.method.type)
    if not providers.route(body.currency, method):
        raise provider_errors.NoRoute(f"No provider collects {body.currency} by {method.value}", provider="none")
    email = body.email or party.email
    if email is None:
        raise CustomerEmailRequired()
    mobile = body.method if isinstance(body.method, schemas.MobileMoney) else None
    collection = Collection(
        id=ids.new_id("col"),
        party_id=party.id,
        wallet_id=wallet.id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        method=method.value,
        operator=mobile.operator.value if mobile else None,
        phone=mobile.phone if mobile else None,
        country=(mobile.country if mobile and mobile.country else party.country),
        customer_email=email,
        description=body.description,
        return_url=body.return_url,
        status=schemas.CollectionStatus.initiated.value,
        provider=None,
        provider_reference=None,
        next_action=None,
        display_text=None,
        redirect_url=None,
        failure_code=None,
        failure_message=None,
        reported_amount_minor=None,
        reported_currency=None,
        credit_transfer_id=None,
        created_by=actor.id,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
        completed_at=None,
        last_checked_at=None,
    )
    collection = await _insert(session, collection)
    await _announce_collection(session, collection, now=now, actor=actor, data={"amount_minor": body.amount_minor})
    await phases.commit_first()

    request = provider_base.CollectionRequest(
        reference=collection.id,
        amount_minor=collection.amount_minor,
        currency=collection.currency,
        method=method,
        customer_email=collection.customer_email,
        phone=collection.phone,
        operator=provider_base.MobileOperator(collection.operator) if collection.operator else None,
        country=collection.country,
        card_token=body.method.card_token if isinstance(body.method, schemas.Card) else None,
        description=collection.description,
        return_url=collection.return_url,
    )
    try:
        update = collection_update_from_result(await providers.collect(request, now=clock()), Source.api)
    except provider_errors.ProviderError as exc:
        update = collection_update_from_error(exc)
    async with phases.phase() as session:
        collection, _ = await apply_collection_update(
            session, collection_id=collection.id, update=update, now=clock(), actor=actor
        )
    return collection


async def submit_collection_otp(
    phases: Phases,
    *,
    collection_id: str,
    otp: str,
    providers: failover.CollectionRouter,
    actor: Actor,
    clock: Clock,
) -> Collection:
    """Hand the customer's OTP to the provider that asked for it."""
    session = phases.first
    now = clock()
    collection = await _locked(session, Collection, collection_id)
    parties_service.check_owner(actor, collection.party_id)
    if collection.next_action != provider_base.NextAction.submit_otp.value or collection.provider is None:
        raise CollectionNotAwaitingOtp(f"The collection is {collection.status}, not waiting for an OTP.")
    assert collection.provider_reference is not None
    _move_collection(collection, schemas.CollectionStatus.processing, now=now)
    await _announce_collection(session, collection, now=now, actor=actor, data={"after": "otp_submitted"})
    await phases.commit_first()

    provider = provider_base.ProviderName(collection.provider)
    submission = provider_base.OtpSubmission(
        reference=collection.id, provider_reference=collection.provider_reference, otp=otp
    )
    try:
        result = await providers.provider(provider).submit_otp(submission)
        update = collection_update_from_result(result, Source.api)
    except provider_errors.ProviderError as exc:
        update = collection_update_from_error(exc, provider=provider)
    async with phases.phase() as session:
        collection, _ = await apply_collection_update(
            session, collection_id=collection.id, update=update, now=clock(), actor=actor
        )
    return collection


async def get_collection(session: AsyncSession, *, collection_id: str, actor: Actor) -> Collection:
    return await _owned(session, Collection, collection_id, actor=actor)


async def list_collections(
    session: AsyncSession,
    *,
    party_id: str | None,
    wallet_id: str | None,
    status: schemas.CollectionStatus | None,
    idempotency_key: str | None,
    after_seq: int | None,
    limit: int,
    actor: Actor,
) -> Sequence[Collection]:
    """``idempotency_key`` finds what a request that never got its answer created (the caller's own keys only)."""
    return await repository.list_rows(
        session,
        Collection,
        party_id=actor.party_id if actor.is_party else party_id,
        wallet_id=wallet_id,
        status=status.value if status else None,
        idempotency_key=idempotency_key,
        created_by=actor.id,
        after_seq=after_seq,
        limit=limit,
    )


def collection_update_from_result(result: provider_base.CollectionResult, source: Source) -> CollectionUpdate:
    return CollectionUpdate(
        source=source,
        provider=result.provider,
        status=result.status,
        provider_reference=result.provider_reference,
        next_action=result.next_action,
        display_text=result.display_text,
        redirect_url=result.redirect_url,
        amount_minor=result.amount_minor,
        currency=result.currency,
        failure_code="declined" if result.status is provider_base.CollectionStatus.failed else None,
        failure_message=result.failure_reason,
        detail=result.provider_status,
    )


def collection_update_from_error(
    exc: provider_errors.ProviderError, *, provider: provider_base.ProviderName | None = None
) -> CollectionUpdate:
    """What a failed call means: an unknown outcome is still pending at the
    provider; anything else means nothing was collected."""
    named = _provider_name(exc.provider) or provider
    if isinstance(exc, provider_errors.OutcomeUnknown):
        return CollectionUpdate(
            source=Source.api,
            provider=named,
            status=provider_base.CollectionStatus.pending,
            provider_reference=None,
            detail="outcome_unknown",
        )
    return CollectionUpdate(
        source=Source.api,
        provider=named if not isinstance(exc, provider_errors.NoProviderAvailable) else None,
        status=provider_base.CollectionStatus.failed,
        provider_reference=exc.provider_reference if named else None,
        failure_code=_failure_code(exc),
        failure_message=exc.detail,
        detail=exc.code,
    )


def _failure_code(exc: provider_errors.ProviderError) -> str:
    return exc.decline_code if isinstance(exc, provider_errors.ProviderDeclined) else exc.code


def collection_update_from_event(event: provider_events.ProviderEvent) -> CollectionUpdate:
    assert event.collection_status is not None
    return CollectionUpdate(
        source=Source.webhook,
        provider=event.provider,
        status=event.collection_status,
        provider_reference=event.provider_reference,
        amount_minor=event.amount_minor,
        currency=event.currency,
        failure_code="declined" if event.collection_status is provider_base.CollectionStatus.failed else None,
        failure_message=event.failure_reason,
        detail=event.event_type,
    )


def _provider_name(value: str | None) -> provider_base.ProviderName | None:
    try:
        return provider_base.ProviderName(value) if value else None
    except ValueError:
        return None


async def apply_collection_update(
    session: AsyncSession,
    *,
    collection_id: str,
    update: CollectionUpdate,
    now: datetime,
    actor: Actor,
) -> tuple[Collection, Applied]:
    """Apply news about a collection under its row lock; see the module docstring."""
    collection = await _locked(session, Collection, collection_id)
    current = schemas.CollectionStatus(collection.status)
    if update.provider is not None and collection.provider not in (None, update.provider.value):
        await _collection_disagreement(
            session,
            collection,
            update,
            message=(
                f"Collection {collection.id} was taken by {collection.provider}, "
                f"but {update.provider.value} reports on it ({update.source.value}: {update.detail})."
            ),
        )
        return collection, Applied.disagreement
    learned = False
    if collection.provider is None and update.provider is not None:
        collection.provider = update.provider.value
        learned = True
    if collection.provider_reference is None and update.provider_reference:
        collection.provider_reference = update.provider_reference[:200]
        learned = True

    target = _collection_target(current, update)
    if current in FINAL_COLLECTION_STATUSES:
        if target is not None and target in FINAL_COLLECTION_STATUSES and not _agrees(current, target):
            await _collection_disagreement(
                session,
                collection,
                update,
                message=(
                    f"Collection {collection.id} is {current.value} in Sika, but {update.provider or 'the provider'} "
                    f"says {target.value} ({update.source.value}: {update.detail})."
                ),
            )
            return collection, Applied.disagreement
        return await _touched(session, collection, learned, now=now), Applied.unchanged
    if target is None or _COLLECTION_RANK[target] <= _COLLECTION_RANK[current]:
        if target is not None:
            log.info(
                "collection.update_stale",
                collection_id=collection.id,
                status=current.value,
                reported=target.value,
                source=update.source.value,
            )
        return await _touched(session, collection, learned, now=now), Applied.unchanged

    applied = Applied.changed
    if target is schemas.CollectionStatus.succeeded:
        if update.amount_minor != collection.amount_minor or update.currency != collection.currency:
            target = schemas.CollectionStatus.amount_mismatch
            applied = Applied.mismatch
            collection.reported_amount_minor = update.amount_minor
            collection.reported_currency = update.currency
            collection.failure_code = "amount_mismatch"
            collection.failure_message = (
                f"{update.provider or 'The provider'} reported {update.amount_minor} {update.currency} "
                f"for a collection of {collection.amount_minor} {collection.currency}."
            )
            await alerts_service.raise_alert(
                session,
                kind="collection.amount_mismatch",
                severity="critical",
                message=f"Collection {collection.id}: {collection.failure_message} Nothing was credited.",
                entity_type="collection",
                entity_id=collection.id,
                data={
                    "expected_amount_minor": collection.amount_minor,
                    "expected_currency": collection.currency,
                    "reported_amount_minor": update.amount_minor,
                    "reported_currency": update.currency,
                    "source": update.source.value,
                    "detail": update.detail,
                },
            )
        else:
            await _credit_wallet(session, collection, now=now, actor=actor)
    elif target is schemas.CollectionStatus.failed:
        collection.failure_code = (update.failure_code or "failed")[:100]
        collection.failure_message = _clip(update.failure_message)
    elif target is schemas.CollectionStatus.action_required:
        collection.display_text = _clip(update.display_text)
        collection.redirect_url = update.redirect_url[:2000] if update.redirect_url else None
    _move_collection(collection, target, now=now, next_action=update.next_action)
    await _announce_collection(
        session, collection, now=now, actor=actor, data={"source": update.source.value, "detail": update.detail}
    )
    return collection, applied


def _collection_target(current: schemas.CollectionStatus, update: CollectionUpdate) -> schemas.CollectionStatus | None:
    if update.status is provider_base.CollectionStatus.succeeded:
        return schemas.CollectionStatus.succeeded
    if update.status is provider_base.CollectionStatus.failed:
        return schemas.CollectionStatus.failed
    if update.next_action is not provider_base.NextAction.none:
        return schemas.CollectionStatus.action_required
    # "Pending, nothing to do" moves only a collection no provider had answered for.
    if current is schemas.CollectionStatus.initiated:
        return schemas.CollectionStatus.processing
    return None


def _agrees(current: schemas.CollectionStatus, reported: schemas.CollectionStatus) -> bool:
    if current is schemas.CollectionStatus.amount_mismatch:
        # The provider says it succeeded (with its amount): that is what was alerted.
        return reported is schemas.CollectionStatus.succeeded
    return current is reported


def _move_collection(
    collection: Collection,
    target: schemas.CollectionStatus,
    *,
    now: datetime,
    next_action: provider_base.NextAction = provider_base.NextAction.none,
) -> None:
    collection.status = target.value
    collection.updated_at = now
    if target is schemas.CollectionStatus.action_required:
        collection.next_action = next_action.value
    else:
        collection.next_action = None
        collection.display_text = None
        collection.redirect_url = None
    if target in FINAL_COLLECTION_STATUSES:
        collection.completed_at = now


async def _credit_wallet(session: AsyncSession, collection: Collection, *, now: datetime, actor: Actor) -> None:
    assert collection.provider is not None, "a success names its provider"
    collection.credit_transfer_id = await _from_clearing(
        session,
        collection,
        provider=collection.provider,
        code="collection.succeeded",
        transfer_id=f"{collection.id}.credit",
        metadata={"collection_id": collection.id, "provider": collection.provider},
        now=now,
        actor=actor,
    )


async def _collection_disagreement(
    session: AsyncSession, collection: Collection, update: CollectionUpdate, *, message: str
) -> None:
    await _alert_once(
        session,
        kind="collection.provider_disagreement",
        severity="critical",
        message=message,
        entity_type="collection",
        entity_id=collection.id,
        data={
            "status": collection.status,
            "provider": collection.provider,
            "reported_provider": update.provider.value if update.provider else None,
            "reported_status": update.status.value,
            "source": update.source.value,
            "detail": update.detail,
        },
    )


async def _announce_collection(
    session: AsyncSession, collection: Collection, *, now: datetime, actor: Actor, data: dict[str, Any]
) -> None:
    await session.flush()
    shown = collection_out(collection).model_dump(mode="json")
    await _announce(session, collection, "collection", shown=shown, now=now, actor=actor, data=data)


# Payouts --------------------------------------------------------------------


async def create_payout(
    phases: Phases,
    *,
    body: schemas.PayoutCreate,
    providers: failover.CollectionRouter,
    payout_providers: dict[str, str],
    idempotency_key: str | None,
    actor: Actor,
    clock: Clock,
) -> Payout:
    """Hold the amount on the wallet, then ask the provider to pay it out with
    the payout's id as its reference (and idempotency key); return the payout
    as the provider's answer left it."""
    session = phases.first
    now = clock()
    party, wallet = await _party_and_wallet(
        session, party_id=body.party_id, wallet_id=body.wallet_id, currency=body.currency, actor=actor
    )
    provider_name = _provider_name(payout_providers.get(body.currency))
    if provider_name is None:
        raise NoPayoutProvider(f"No provider is configured to pay out {body.currency}.")
    try:
        provider = providers.provider(provider_name)
    except KeyError:
        raise NoPayoutProvider(f"{provider_name.value} pays out {body.currency} but is not configured.") from None
    payout_id = ids.new_id("po")
    hold = await wallets_service.place_hold(
        session,
        wallet_id=wallet.id,
        amount_minor=body.amount_minor,
        reason="payout",
        reference=payout_id,
        expires_in_seconds=None,
        owner=hold_owner(payout_id),
        actor=actor,
        now=now,
    )
    destination = body.destination
    payout = Payout(
        id=payout_id,
        party_id=party.id,
        wallet_id=wallet.id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        operator=destination.operator.value,
        phone=destination.phone,
        country=destination.country or party.country,
        recipient_name=body.recipient_name,
        reason=body.reason,
        status=schemas.PayoutStatus.initiated.value,
        provider=provider_name.value,
        provider_reference=None,
        hold_id=hold.pending.id,
        reversal_transfer_id=None,
        failure_code=None,
        failure_message=None,
        created_by=actor.id,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
        completed_at=None,
        last_checked_at=None,
    )
    payout = await _insert(session, payout)
    await _announce_payout(session, payout, now=now, actor=actor, data={"amount_minor": body.amount_minor})
    await phases.commit_first()

    request = provider_base.PayoutRequest(
        reference=payout.id,
        amount_minor=payout.amount_minor,
        currency=payout.currency,
        phone=payout.phone,
        operator=provider_base.MobileOperator(payout.operator),
        country=payout.country,
        recipient_name=payout.recipient_name,
        reason=payout.reason,
    )
    try:
        update = payout_update_from_result(await provider.payout(request), Source.api)
    except provider_errors.ProviderError as exc:
        update = payout_update_from_error(exc, provider=provider_name)
    async with phases.phase() as session:
        payout, _ = await apply_payout_update(session, payout_id=payout.id, update=update, now=clock(), actor=actor)
    return payout


async def get_payout(session: AsyncSession, *, payout_id: str, actor: Actor) -> Payout:
    return await _owned(session, Payout, payout_id, actor=actor)


async def list_payouts(
    session: AsyncSession,
    *,
    party_id: str | None,
    wallet_id: str | None,
    status: schemas.PayoutStatus | None,
    idempotency_key: str | None,
    after_seq: int | None,
    limit: int,
    actor: Actor,
) -> Sequence[Payout]:
    return await repository.list_rows(
        session,
        Payout,
        party_id=actor.party_id if actor.is_party else party_id,
        wallet_id=wallet_id,
        status=status.value if status else None,
        idempotency_key=idempotency_key,
        created_by=actor.id,
        after_seq=after_seq,
        limit=limit,
    )


def payout_update_from_result(result: provider_base.PayoutResult, source: Source) -> PayoutUpdate:
    return PayoutUpdate(
        source=source,
        provider=result.provider,
        status=result.status,
        provider_reference=result.provider_reference or None,
        amount_minor=result.amount_minor,
        currency=result.currency,
        failure_code="failed" if result.status is provider_base.PayoutStatus.failed else None,
        failure_message=result.failure_reason,
        detail=result.provider_status,
    )


def payout_update_from_error(
    exc: provider_errors.ProviderError, *, provider: provider_base.ProviderName
) -> PayoutUpdate:
    """A payout is not retried elsewhere: an unknown outcome stays pending until
    reconciliation; anything else means nothing was paid."""
    if isinstance(exc, provider_errors.OutcomeUnknown):
        return PayoutUpdate(
            source=Source.api, provider=provider, status=provider_base.PayoutStatus.pending, detail="outcome_unknown"
        )
    return PayoutUpdate(
        source=Source.api,
        provider=provider,
        status=provider_base.PayoutStatus.failed,
        provider_reference=exc.provider_reference,
        failure_code=_failure_code(exc),
        failure_message=exc.detail,
        detail=exc.code,
    )


def payout_update_from_event(event: provider_events.ProviderEvent) -> PayoutUpdate:
    assert event.payout_status is not None
    return PayoutUpdate(
        source=Source.webhook,
        provider=event.provider,
        status=event.payout_status,
        provider_reference=event.provider_reference,
        amount_minor=event.amount_minor,
        currency=event.currency,
        failure_code="failed" if event.payout_status is provider_base.PayoutStatus.failed else None,
        failure_message=event.failure_reason,
        detail=event.event_type,
    )


async def apply_payout_update(
    session: AsyncSession,
    *,
    payout_id: str,
    update: PayoutUpdate,
    now: datetime,
    actor: Actor,
) -> tuple[Payout, Applied]:
    """Apply news about a payout under its row lock; see the module docstring."""
    payout = await _locked(session, Payout, payout_id)
    current = schemas.PayoutStatus(payout.status)
    if update.provider.value != payout.provider:
        await _payout_alert(
            session,
            payout,
            update,
            kind="payout.provider_disagreement",
            message=f"Payout {payout.id} went to {payout.provider}, but {update.provider.value} reports on it.",
        )
        return payout, Applied.disagreement
    learned = False
    if payout.provider_reference is None and update.provider_reference:
        payout.provider_reference = update.provider_reference[:200]
        learned = True
    target = _payout_target(current, update)
    if current in FINAL_PAYOUT_STATUSES and not (
        current is schemas.PayoutStatus.succeeded and target is schemas.PayoutStatus.reversed
    ):
        if (
            target is not None
            and target in FINAL_PAYOUT_STATUSES
            and target is not current
            and _PAYOUT_RANK[target] >= _PAYOUT_RANK[current]
        ):
            await _payout_alert(
                session,
                payout,
                update,
                kind="payout.provider_disagreement",
                message=(
                    f"Payout {payout.id} is {current.value} in Sika, but {update.provider.value} "
                    f"says {target.value} ({update.source.value}: {update.detail})."
                ),
            )
            return payout, Applied.disagreement
        return await _touched(session, payout, learned, now=now), Applied.unchanged
    if target is None or _PAYOUT_RANK[target] <= _PAYOUT_RANK[current]:
        return await _touched(session, payout, learned, now=now), Applied.unchanged
    if target in (schemas.PayoutStatus.succeeded, schemas.PayoutStatus.reversed) and (
        (update.amount_minor is not None and update.amount_minor != payout.amount_minor)
        or (update.currency is not None and update.currency != payout.currency)
    ):
        await _payout_alert(
            session,
            payout,
            update,
            kind="payout.amount_mismatch",
            message=(
                f"Payout {payout.id} of {payout.amount_minor} {payout.currency}: {update.provider.value} "
                f"reports {update.amount_minor} {update.currency} ({update.source.value}). The hold stays as it is."
            ),
        )
        return await _touched(session, payout, learned, now=now), Applied.mismatch

    if target is schemas.PayoutStatus.succeeded:
        await _capture_payout_hold(session, payout, now=now, actor=actor)
    elif target is schemas.PayoutStatus.failed:
        await wallets_service.release_hold(
            session, hold_id=payout.hold_id, owner=hold_owner(payout.id), actor=actor, now=now
        )
        payout.failure_code = (update.failure_code or "failed")[:100]
        payout.failure_message = _clip(update.failure_message)
    elif target is schemas.PayoutStatus.reversed:
        if current is schemas.PayoutStatus.succeeded:
            payout.reversal_transfer_id = await _give_back(session, payout, now=now, actor=actor)
        else:
            await wallets_service.release_hold(
                session, hold_id=payout.hold_id, owner=hold_owner(payout.id), actor=actor, now=now
            )
        payout.failure_code = "reversed"
        payout.failure_message = _clip(update.failure_message)
    elif update.status is provider_base.PayoutStatus.requires_otp:
        await _payout_alert(
            session,
            payout,
            update,
            kind="payout.requires_otp",
            message=(
                f"{update.provider.value} wants an OTP before paying out {payout.id}: Sika pays out without one, "
                "so turn the transfer OTP off in the provider's dashboard. Reconciliation will follow the payout."
            ),
            severity="warning",
        )
    payout.status = target.value
    payout.updated_at = now
    if target in FINAL_PAYOUT_STATUSES:
        payout.completed_at = now
    await _announce_payout(
        session, payout, now=now, actor=actor, data={"source": update.source.value, "detail": update.detail}
    )
    return payout, Applied.changed


def _payout_target(current: schemas.PayoutStatus, update: PayoutUpdate) -> schemas.PayoutStatus | None:
    if update.status is provider_base.PayoutStatus.succeeded:
        return schemas.PayoutStatus.succeeded
    if update.status is provider_base.PayoutStatus.failed:
        return schemas.PayoutStatus.failed
    if update.status is provider_base.PayoutStatus.reversed:
        return schemas.PayoutStatus.reversed
    if current is schemas.PayoutStatus.initiated:
        return schemas.PayoutStatus.processing
    return None


async def _capture_payout_hold(session: AsyncSession, payout: Payout, *, now: datetime, actor: Actor) -> None:
    clearing = await _clearing_account(
        session, provider=payout.provider, currency=payout.currency, now=now, actor=actor
    )
    await wallets_service.capture_hold_to_account(
        session,
        hold_id=payout.hold_id,
        account_id=clearing,
        code="payout.succeeded",
        metadata={"payout_id": payout.id, "provider": payout.provider},
        owner=hold_owner(payout.id),
        actor=actor,
        now=now,
    )


def hold_owner(payout_id: str) -> wallets_service.HoldOwner:
    """The identity a payout's flow resolves its hold with: the hold's owner."""
    return wallets_service.HoldOwner(wallets_models.HoldOwnerType.payout, payout_id)


async def _give_back(session: AsyncSession, payout: Payout, *, now: datetime, actor: Actor) -> str:
    return await _from_clearing(
        session,
        payout,
        provider=payout.provider,
        code="payout.reversed",
        transfer_id=f"{payout.id}.reversal",
        metadata={"payout_id": payout.id, "provider": payout.provider},
        now=now,
        actor=actor,
    )


async def _payout_alert(
    session: AsyncSession,
    payout: Payout,
    update: PayoutUpdate,
    *,
    kind: str,
    message: str,
    severity: str = "critical",
) -> None:
    await _alert_once(
        session,
        kind=kind,
        severity=severity,
        message=message,
        entity_type="payout",
        entity_id=payout.id,
        data={
            "status": payout.status,
            "provider": payout.provider,
            "reported_provider": update.provider.value,
            "reported_status": update.status.value,
            "reported_amount_minor": update.amount_minor,
            "reported_currency": update.currency,
            "source": update.source.value,
            "detail": update.detail,
        },
    )


async def _announce_payout(
    session: AsyncSession, payout: Payout, *, now: datetime, actor: Actor, data: dict[str, Any]
) -> None:
    await session.flush()
    shown = payout_out(payout).model_dump(mode="json")
    await _announce(session, payout, "payout", shown=shown, now=now, actor=actor, data=data)


# Shared by collections and payouts ------------------------------------------------

_NOT_FOUND: dict[type[Collection] | type[Payout], type[errors.NotFound]] = {
    Collection: CollectionNotFound,
    Payout: PayoutNotFound,
}


async def _party_and_wallet(
    session: AsyncSession, *, party_id: str, wallet_id: str, currency: str, actor: Actor
) -> tuple[parties_models.Party, wallets_models.Wallet]:
    """The party money moves for, and its wallet in ``currency``, as ``actor`` may reach them."""
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    wallet = await wallets_service.owned_wallet(session, wallet_id=wallet_id, actor=actor)
    if wallet.party_id != party.id:
        raise WalletNotOfParty()
    if wallet.currency != currency:
        raise WalletCurrencyMismatch(f"The wallet holds {wallet.currency}, not {currency}.")
    return party, wallet


async def _insert(session: AsyncSession, row: repository.Row) -> repository.Row:
    """Record a new collection or payout, refusing a key that already made one; returns it as stored."""
    if not await repository.insert_if_key_unused(session, row):
        raise IdempotencyKeyAlreadyUsed()
    stored = await repository.get(session, type(row), row.id)
    assert stored is not None
    return stored


async def _owned(session: AsyncSession, model: type[repository.Row], row_id: str, *, actor: Actor) -> repository.Row:
    row = await repository.get(session, model, row_id)
    if row is None:
        raise _NOT_FOUND[model]()
    parties_service.check_owner(actor, row.party_id)
    return row


async def _locked(session: AsyncSession, model: type[repository.Row], row_id: str) -> repository.Row:
    row = await repository.get_for_update(session, model, row_id)
    if row is None:
        raise _NOT_FOUND[model]()
    return row


async def _touched(session: AsyncSession, row: repository.Row, learned: bool, *, now: datetime) -> repository.Row:
    """News that moved no state may still have taught a provider or its reference."""
    if learned:
        row.updated_at = now
        await session.flush()
    return row


async def _from_clearing(
    session: AsyncSession,
    row: Collection | Payout,
    *,
    provider: str,
    code: str,
    transfer_id: str,
    metadata: dict[str, Any],
    now: datetime,
    actor: Actor,
) -> str:
    """Move the row's amount from ``provider``'s clearing account to its wallet
    (a collection's credit, a captured payout given back); returns the transfer's id."""
    wallet = await wallets_service.owned_wallet(session, wallet_id=row.wallet_id, actor=actor)
    clearing = await _clearing_account(session, provider=provider, currency=row.currency, now=now, actor=actor)
    transfer = await ledger_service.create_transfer(
        session,
        debit_account_id=clearing,
        credit_account_id=wallet.account_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        code=code,
        transfer_id=transfer_id,
        metadata=metadata,
        now=now,
        actor=actor,
    )
    assert not transfer.replayed, "the row lock and the state make this transfer happen once"
    return transfer.id


async def _alert_once(
    session: AsyncSession,
    *,
    kind: str,
    severity: str,
    message: str,
    entity_type: str,
    entity_id: str,
    data: dict[str, Any],
) -> None:
    """Raise an alert unless one of this kind about this collection or payout awaits an
    operator: the same news comes back (reconciliation asks each run, a provider
    resends), and it is one problem to look at, not one per time it is heard."""
    if await alerts_service.has_open(session, kind=kind, entity_id=entity_id):
        log.info("payments.alert_repeated", kind=kind, entity_id=entity_id)
        return
    await alerts_service.raise_alert(
        session,
        kind=kind,
        severity=severity,
        message=message,
        entity_type=entity_type,
        entity_id=entity_id,
        data=data,
    )


async def _announce(
    session: AsyncSession,
    row: Collection | Payout,
    entity_type: str,
    *,
    shown: dict[str, Any],
    now: datetime,
    actor: Actor,
    data: dict[str, Any],
) -> None:
    """The domain event and the audit row of a state change, in its transaction."""
    await events_service.emit(
        session,
        type=f"{entity_type}.{row.status}",
        entity_type=entity_type,
        entity_id=row.id,
        party_id=row.party_id,
        data=shown,
        now=now,
    )
    await audit_service.record(
        session,
        actor=actor,
        action=f"{entity_type}.{row.status}",
        entity_type=entity_type,
        entity_id=row.id,
        data={"status": row.status, "provider": row.provider, **data},
    )


# Reconciliation ---------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileReport:
    checked: int
    changed: int
    unreachable: int
    """Left for the next run: the provider could not be asked."""


@dataclass(frozen=True)
class Stuck:
    """Collections and payouts still open after a time, oldest first, and how many there are in all."""

    collections: Sequence[Collection]
    collections_total: int
    payouts: Sequence[Payout]
    payouts_total: int


async def stuck(session: AsyncSession, *, created_before: datetime, limit: int) -> Stuck:
    """What an operator sees as stuck: not final, and created before ``created_before``."""
    return Stuck(
        collections=await repository.list_open_created_before(
            session, Collection, created_before=created_before, limit=limit
        ),
        collections_total=await repository.count_open_created_before(
            session, Collection, created_before=created_before
        ),
        payouts=await repository.list_open_created_before(session, Payout, created_before=created_before, limit=limit),
        payouts_total=await repository.count_open_created_before(session, Payout, created_before=created_before),
    )


async def created_per_day(session: AsyncSession, *, since: datetime) -> tuple[dict[date, int], dict[date, int]]:
    """Collections, then payouts, created on each UTC day from ``since`` on (days with none absent)."""
    return (
        await repository.count_per_day(session, Collection, since=since),
        await repository.count_per_day(session, Payout, since=since),
    )


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    *,
    providers: failover.CollectionRouter,
    after_seconds: int,
    actor: Actor,
    clock: Clock,
    batch_size: int = RECONCILE_BATCH_SIZE,
) -> ReconcileReport:
    """Ask the providers about every collection and payout still open after
    ``after_seconds`` (and not asked since), and finish them. Each is looked up
    with no transaction open and updated in its own."""
    older_than = clock() - timedelta(seconds=after_seconds)
    async with db.transaction(sessions) as session:
        collection_ids = await repository.due_for_check(session, Collection, older_than=older_than, limit=batch_size)
        payout_ids = await repository.due_for_check(session, Payout, older_than=older_than, limit=batch_size)
    outcomes = [
        await _isolated(
            reconcile_collection(sessions, collection_id=collection_id, providers=providers, actor=actor, clock=clock),
            what=collection_id,
        )
        for collection_id in collection_ids
    ] + [
        await _isolated(
            reconcile_payout(sessions, payout_id=payout_id, providers=providers, actor=actor, clock=clock),
            what=payout_id,
        )
        for payout_id in payout_ids
    ]
    return ReconcileReport(
        checked=len(outcomes),
        changed=outcomes.count(Applied.changed),
        unreachable=outcomes.count(None),
    )


async def _isolated(check: Awaitable[Applied | None], *, what: str) -> Applied | None:
    """One item's reconciliation, kept from stopping the rest of the batch: an
    unexpected error (a malformed provider answer, a route removed since) is
    logged and counted as not reached, and the item is tried again next run."""
    try:
        return await check
    except Exception:
        log.exception("reconcile.item_failed", item=what)
        return None


async def reconcile_collection(
    sessions: async_sessionmaker[AsyncSession],
    *,
    collection_id: str,
    providers: failover.CollectionRouter,
    actor: Actor,
    clock: Clock,
) -> Applied | None:
    """Look the collection up at its provider (at every provider of its route
    when none had answered) and apply what it says; None when no provider could
    be asked. A collection no provider of its route knows never reached one: it failed."""
    async with db.transaction(sessions) as session:
        collection = await repository.get(session, Collection, collection_id)
        if collection is None or schemas.CollectionStatus(collection.status) in FINAL_COLLECTION_STATUSES:
            return Applied.unchanged
        await repository.mark_checked(session, Collection, collection_id, now=clock())
    if collection.provider is not None:
        candidates = [provider_base.ProviderName(collection.provider)]
    else:
        candidates = providers.route(collection.currency, provider_base.PaymentMethod(collection.method))
    update: CollectionUpdate | None = None
    for name in candidates:
        lookup = provider_base.StatusLookup(
            reference=collection.id,
            provider_reference=collection.provider_reference if collection.provider == name.value else None,
        )
        try:
            result = await providers.provider(name).collection_status(lookup)
        except provider_errors.NotFoundAtProvider:
            continue
        except provider_errors.ProviderError as exc:
            log.warning("reconcile.lookup_failed", collection_id=collection.id, provider=name.value, error=exc.code)
            return None
        update = collection_update_from_result(result, Source.reconciliation)
        break
    if update is None:
        update = CollectionUpdate(
            source=Source.reconciliation,
            provider=None,
            status=provider_base.CollectionStatus.failed,
            failure_code="not_found_at_provider",
            failure_message=f"No provider of the route ({', '.join(n.value for n in candidates)}) knows it.",
            detail="not_found",
        )
    async with db.transaction(sessions) as session:
        _, applied = await apply_collection_update(
            session, collection_id=collection.id, update=update, now=clock(), actor=actor
        )
    log.info("reconcile.collection", collection_id=collection.id, applied=applied.value, reported=update.status.value)
    return applied


async def reconcile_payout(
    sessions: async_sessionmaker[AsyncSession],
    *,
    payout_id: str,
    providers: failover.CollectionRouter,
    actor: Actor,
    clock: Clock,
) -> Applied | None:
    """Look the payout up at its provider and apply what it says; a payout the
    provider does not know was never made: it failed and its hold is released."""
    async with db.transaction(sessions) as session:
        payout = await repository.get(session, Payout, payout_id)
        if payout is None or schemas.PayoutStatus(payout.status) in FINAL_PAYOUT_STATUSES:
            return Applied.unchanged
        await repository.mark_checked(session, Payout, payout_id, now=clock())
    name = provider_base.ProviderName(payout.provider)
    try:
        result = await providers.provider(name).payout_status(
            provider_base.StatusLookup(reference=payout.id, provider_reference=payout.provider_reference)
        )
        update = payout_update_from_result(result, Source.reconciliation)
    except provider_errors.NotFoundAtProvider:
        update = PayoutUpdate(
            source=Source.reconciliation,
            provider=name,
            status=provider_base.PayoutStatus.failed,
            failure_code="not_found_at_provider",
            failure_message=f"{name.value} does not know this payout: it was never made.",
            detail="not_found",
        )
    except provider_errors.ProviderError as exc:
        log.warning("reconcile.lookup_failed", payout_id=payout.id, provider=name.value, error=exc.code)
        return None
    async with db.transaction(sessions) as session:
        _, applied = await apply_payout_update(session, payout_id=payout.id, update=update, now=clock(), actor=actor)
    log.info("reconcile.payout", payout_id=payout.id, applied=applied.value, reported=update.status.value)
    return applied
