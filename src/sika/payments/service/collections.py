"""Collections: money in from a customer's mobile money or card, credited to a wallet.

initiated → action_required → processing → succeeded | failed |
amount_mismatch (``sika.payments.states``). Succeeded credits the wallet from
the provider's clearing account, through the wallets service, with a ledger
transfer whose id is derived from the collection's (``<id>.credit``), so even
a second attempt could not credit twice. A success whose amount or currency
differs from the collection's credits nothing, marks it ``amount_mismatch``
and raises a critical alert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts import service as alerts_service
from sika.core import errors, ids
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.parties import models as parties_models
from sika.parties import service as parties_service
from sika.payments import repository, schemas
from sika.payments.models import Collection
from sika.payments.service import calls, credit_hooks, flow
from sika.payments.service.flow import Applied, Clock, MobileMoney, Source
from sika.payments.states import COLLECTION_STATES, CollectionStatus, ReportedCollectionStatus
from sika.providers import base as provider_base
from sika.providers import calls as provider_calls
from sika.providers import errors as provider_errors
from sika.providers import events as provider_events
from sika.providers import failover
from sika.wallets import models as wallets_models


class CustomerEmailRequired(errors.ValidationFailed):
    """The provider needs the customer's email: send "email" or give the party one."""

    code = "customer_email_required"


class CollectionNotAwaitingOtp(errors.Conflict):
    """The collection is not waiting for an OTP."""

    code = "collection_not_awaiting_otp"


@dataclass(frozen=True)
class Card:
    """A card tokenised by the provider's client library (Stripe ``pm_…``); never a card number."""

    token: str


@dataclass(frozen=True)
class CollectionUpdate:
    """News about a collection, whatever brought it."""

    source: Source
    provider: provider_base.ProviderName | None
    status: ReportedCollectionStatus
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
    restores_step: bool = False
    """Reconciliation asked the provider for the step it waits for (``next_action``):
    it may move the collection back to it (``COLLECTION_STATES.recovery``)."""


async def create_collection(
    phases: Phases,
    *,
    party_id: str | None,
    wallet_id: str,
    amount_minor: int,
    currency: str,
    method: MobileMoney | Card,
    email: str | None = None,
    description: str = "",
    return_url: str | None = None,
    providers: failover.CollectionRouter,
    idempotency_key: str | None,
    actor: Actor,
    clock: Clock,
    recorded: Callable[[AsyncSession, Collection], Awaitable[None]] | None = None,
) -> Collection:
    """Start a collection into ``wallet_id`` (of ``party_id``, or of the wallet's own party
    when None) and return it as the provider's answer left it: ``action_required`` with
    what the customer must do, ``processing``, ``succeeded`` (the wallet credited) or ``failed``.
    ``recorded`` is what the caller records beside it, in its first phase (an escrow, the
    collection that funds it)."""
    session = phases.first
    now = clock()
    party, wallet = await flow.party_and_wallet(
        session, party_id=party_id, wallet_id=wallet_id, currency=currency, actor=actor
    )
    payment_method = _payment_method(method)
    if not providers.route(currency, payment_method):
        raise provider_errors.NoRoute(f"No provider collects {currency} by {payment_method.value}", provider="none")
    customer_email = email or party.email
    if customer_email is None:
        raise CustomerEmailRequired()
    collection = _new_collection(
        party,
        wallet,
        amount_minor=amount_minor,
        method=method,
        customer_email=customer_email,
        description=description,
        return_url=return_url,
        idempotency_key=idempotency_key,
        actor=actor,
        now=now,
    )
    collection = await flow.insert(session, collection)
    await _announce(session, collection, now=now, actor=actor, data={"amount_minor": amount_minor})
    if recorded is not None:
        await recorded(session, collection)
    await phases.commit_first()

    with provider_calls.recording() as notes:
        try:
            update = collection_update_from_result(
                await providers.collect(provider_request(collection), now=clock()), Source.api
            )
        except provider_errors.ProviderError as exc:
            update = collection_update_from_error(exc)
    async with phases.phase() as session:
        await calls.store(session, notes, payment=collection)
        collection, _ = await apply_collection_update(
            session, collection_id=collection.id, update=update, now=clock(), actor=actor
        )
    return collection


def provider_request(collection: Collection) -> provider_base.CollectionRequest:
    """The create a provider is sent for ``collection``: built from the row alone, so
    reconciliation can send the very same one again (a replay under the same key)."""
    return provider_base.CollectionRequest(
        reference=collection.id,
        amount_minor=collection.amount_minor,
        currency=collection.currency,
        method=provider_base.PaymentMethod(collection.method),
        customer_email=collection.customer_email,
        phone=collection.phone,
        operator=provider_base.MobileOperator(collection.operator) if collection.operator else None,
        country=collection.country,
        card_token=collection.card_token,
        description=collection.description,
        return_url=collection.return_url,
    )


def _payment_method(method: MobileMoney | Card) -> provider_base.PaymentMethod:
    if isinstance(method, Card):
        return provider_base.PaymentMethod.card
    return provider_base.PaymentMethod.mobile_money


def _new_collection(
    party: parties_models.Party,
    wallet: wallets_models.Wallet,
    *,
    amount_minor: int,
    method: MobileMoney | Card,
    customer_email: str,
    description: str,
    return_url: str | None,
    idempotency_key: str | None,
    actor: Actor,
    now: datetime,
) -> Collection:
    """The collection as its first phase records it: ``initiated``, no provider yet."""
    mobile = method if isinstance(method, MobileMoney) else None
    return Collection(
        id=ids.new_id("col"),
        party_id=party.id,
        platform_id=party.platform_id,
        wallet_id=wallet.id,
        amount_minor=amount_minor,
        currency=wallet.currency,
        method=_payment_method(method).value,
        operator=mobile.operator.value if mobile else None,
        phone=mobile.phone if mobile else None,
        country=(mobile.country if mobile and mobile.country else party.country),
        customer_email=customer_email,
        description=description,
        return_url=return_url,
        card_token=method.token if isinstance(method, Card) else None,
        status=CollectionStatus.initiated.value,
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


async def submit_collection_otp(
    phases: Phases,
    *,
    collection_id: str,
    otp: str,
    providers: failover.CollectionRouter,
    idempotency_key: str | None = None,
    actor: Actor,
    clock: Clock,
) -> Collection:
    """Hand the customer's OTP to the provider that asked for it. The submission's
    event names its Idempotency-Key: what a client whose answer was lost looks for."""
    session = phases.first
    now = clock()
    collection = await flow.locked(session, Collection, collection_id)
    parties_service.check_owner(actor, collection.party_id)
    if collection.next_action != provider_base.NextAction.submit_otp.value or collection.provider is None:
        raise CollectionNotAwaitingOtp(f"The collection is {collection.status}, not waiting for an OTP.")
    assert collection.provider_reference is not None
    _move(collection, CollectionStatus.processing, now=now)
    await _announce(
        session, collection, now=now, actor=actor, data={"after": "otp_submitted", "idempotency_key": idempotency_key}
    )
    await phases.commit_first()

    provider = provider_base.ProviderName(collection.provider)
    submission = provider_base.OtpSubmission(
        reference=collection.id, provider_reference=collection.provider_reference, otp=otp
    )
    with provider_calls.recording() as notes:
        try:
            result = await providers.provider(provider).submit_otp(submission)
            update = collection_update_from_result(result, Source.api)
        except provider_errors.ProviderError as exc:
            update = collection_update_from_error(exc, provider=provider)
    async with phases.phase() as session:
        await calls.store(session, notes, payment=collection)
        collection, _ = await apply_collection_update(
            session, collection_id=collection.id, update=update, now=clock(), actor=actor
        )
    return collection


async def get_collection(session: AsyncSession, *, collection_id: str, actor: Actor) -> Collection:
    return await flow.owned(session, Collection, collection_id, actor=actor)


async def list_collections(
    session: AsyncSession,
    *,
    party_id: str | None,
    wallet_id: str | None,
    status: CollectionStatus | None,
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


async def collection_started_with(session: AsyncSession, *, idempotency_key: str, actor: Actor) -> Collection | None:
    """The collection a request with this key started, if it got that far: what a
    money route's recovery answers with when the request never got its answer."""
    found = await list_collections(
        session,
        party_id=None,
        wallet_id=None,
        status=None,
        idempotency_key=idempotency_key,
        after_seq=None,
        limit=1,
        actor=actor,
    )
    return found[0] if found else None


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
        failure_code="declined" if result.status is ReportedCollectionStatus.failed else None,
        failure_message=result.failure_reason,
        detail=result.provider_status,
    )


def collection_update_from_error(
    exc: provider_errors.ProviderError, *, provider: provider_base.ProviderName | None = None
) -> CollectionUpdate:
    """What a failed call means: an unknown outcome is still pending at the
    provider; anything else means nothing was collected."""
    named = flow.provider_name(exc.provider) or provider
    if isinstance(exc, provider_errors.OutcomeUnknown):
        return CollectionUpdate(
            source=Source.api,
            provider=named,
            status=ReportedCollectionStatus.pending,
            provider_reference=None,
            detail="outcome_unknown",
        )
    return CollectionUpdate(
        source=Source.api,
        provider=named if not isinstance(exc, provider_errors.NoProviderAvailable) else None,
        status=ReportedCollectionStatus.failed,
        provider_reference=exc.provider_reference if named else None,
        failure_code=flow.failure_code(exc),
        failure_message=exc.detail,
        detail=exc.code,
    )


def collection_update_from_event(event: provider_events.ProviderEvent) -> CollectionUpdate:
    assert event.collection_status is not None
    return CollectionUpdate(
        source=Source.webhook,
        provider=event.provider,
        status=event.collection_status,
        provider_reference=event.provider_reference,
        amount_minor=event.amount_minor,
        currency=event.currency,
        failure_code="declined" if event.collection_status is ReportedCollectionStatus.failed else None,
        failure_message=event.failure_reason,
        detail=event.event_type,
    )


async def apply_collection_update(
    session: AsyncSession,
    *,
    collection_id: str,
    update: CollectionUpdate,
    now: datetime,
    actor: Actor,
) -> tuple[Collection, Applied]:
    """Apply news about a collection under its row lock, so the state moves
    forward only and the wallet is credited once (see ``sika.payments.service``)."""
    collection = await flow.locked(session, Collection, collection_id)
    current = CollectionStatus(collection.status)
    if update.provider is not None and collection.provider not in (None, update.provider.value):
        await _disagreement(
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
    learned = flow.learn_reference(collection, update.provider_reference) or learned
    target = _target(current, update)

    async def contradicted() -> None:
        assert target is not None
        await _disagreement(
            session,
            collection,
            update,
            message=(
                f"Collection {collection.id} is {current.value} in Sika, but {update.provider or 'the provider'} "
                f"says {target.value} ({update.source.value}: {update.detail})."
            ),
        )

    recovering = update.restores_step and target is not None and COLLECTION_STATES.may_recover(current, target)
    stopped = (
        None
        if recovering
        else await flow.judged(
            session,
            collection,
            machine=COLLECTION_STATES,
            current=current,
            target=target,
            learned=learned,
            source=update.source,
            now=now,
            contradicted=contradicted,
        )
    )
    if stopped is not None:
        return collection, stopped
    assert target is not None
    return collection, await _advance(session, collection, update, target=target, now=now, actor=actor)


async def _advance(
    session: AsyncSession,
    collection: Collection,
    update: CollectionUpdate,
    *,
    target: CollectionStatus,
    now: datetime,
    actor: Actor,
) -> Applied:
    """Move the collection to ``target`` with what it brings: the wallet's
    credit on success, unless the reported amount differs."""
    applied = Applied.changed
    after_credit = None
    if target is CollectionStatus.succeeded:
        if update.amount_minor != collection.amount_minor or update.currency != collection.currency:
            target = CollectionStatus.amount_mismatch
            applied = Applied.mismatch
            await _amount_mismatch(session, collection, update)
        else:
            after_credit = await _credit_wallet(session, collection, now=now, actor=actor)
    elif target is CollectionStatus.failed:
        collection.failure_code = (update.failure_code or "failed")[:100]
        collection.failure_message = flow.clip(update.failure_message)
    elif target is CollectionStatus.action_required:
        collection.display_text = flow.clip(update.display_text)
        collection.redirect_url = update.redirect_url[:2000] if update.redirect_url else None
    _move(collection, target, now=now, next_action=update.next_action)
    await _announce(
        session, collection, now=now, actor=actor, data={"source": update.source.value, "detail": update.detail}
    )
    if after_credit is not None:
        await after_credit()
    if target in (CollectionStatus.failed, CollectionStatus.amount_mismatch):
        await credit_hooks.after_failure(session, collection, now=now, actor=actor)
    return applied


def _target(current: CollectionStatus, update: CollectionUpdate) -> CollectionStatus | None:
    if update.status is ReportedCollectionStatus.succeeded:
        return CollectionStatus.succeeded
    if update.status is ReportedCollectionStatus.failed:
        return CollectionStatus.failed
    if update.next_action is not provider_base.NextAction.none:
        return CollectionStatus.action_required
    # "Pending, nothing to do" moves only a collection no provider had answered for.
    if current is CollectionStatus.initiated:
        return CollectionStatus.processing
    return None


def _move(
    collection: Collection,
    target: CollectionStatus,
    *,
    now: datetime,
    next_action: provider_base.NextAction = provider_base.NextAction.none,
) -> None:
    flow.move(collection, target, machine=COLLECTION_STATES, now=now)
    if target is CollectionStatus.action_required:
        collection.next_action = next_action.value
    else:
        collection.next_action = None
        collection.display_text = None
        collection.redirect_url = None


async def _amount_mismatch(session: AsyncSession, collection: Collection, update: CollectionUpdate) -> None:
    """Record what the provider reported instead, and alert: nothing is credited."""
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
        platform_id=collection.platform_id,
        data={
            "expected_amount_minor": collection.amount_minor,
            "expected_currency": collection.currency,
            "reported_amount_minor": update.amount_minor,
            "reported_currency": update.currency,
            "source": update.source.value,
            "detail": update.detail,
        },
    )


async def _credit_wallet(
    session: AsyncSession, collection: Collection, *, now: datetime, actor: Actor
) -> credit_hooks.AfterCredit:
    """Credit the wallet; returns what other domains do next in the same transaction
    (``credit_hooks``), once the collection shows its success."""
    assert collection.provider is not None, "a success names its provider"
    after_credit = await credit_hooks.before_credit(session, collection, now=now, actor=actor)
    collection.credit_transfer_id = await flow.from_clearing(
        session,
        collection,
        provider=collection.provider,
        code="collection.succeeded",
        transfer_id=f"{collection.id}.credit",
        metadata={"collection_id": collection.id, "provider": collection.provider},
        now=now,
        actor=actor,
    )
    return after_credit


async def _disagreement(
    session: AsyncSession, collection: Collection, update: CollectionUpdate, *, message: str
) -> None:
    await flow.alert_once(
        session,
        kind="collection.provider_disagreement",
        severity="critical",
        message=message,
        entity_type="collection",
        entity_id=collection.id,
        platform_id=collection.platform_id,
        data={
            "status": collection.status,
            "provider": collection.provider,
            "reported_provider": update.provider.value if update.provider else None,
            "reported_status": update.status.value,
            "source": update.source.value,
            "detail": update.detail,
        },
    )


async def _announce(
    session: AsyncSession, collection: Collection, *, now: datetime, actor: Actor, data: dict[str, Any]
) -> None:
    await repository.flush(session)
    shown = schemas.collection_out(collection).model_dump(mode="json")
    await flow.announce(session, collection, "collection", shown=shown, now=now, actor=actor, data=data)
