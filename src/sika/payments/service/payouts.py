"""Payouts: money out of a wallet to mobile money.

initiated → processing → succeeded | failed, and succeeded → reversed
(``sika.payments.states``). The hold placed in the first phase is captured to
the provider's clearing account on success, released on failure; a reversal
after capture gives the money back with one transfer (``<id>.reversal``), a
reversal before it releases the hold. The payout owns its hold
(``hold_owner``): nothing but this flow may capture or release it, so
``/v1/holds`` cannot take its money elsewhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors, ids
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.parties import models as parties_models
from sika.payments import repository, schemas
from sika.payments.models import Payout
from sika.payments.service import calls, flow
from sika.payments.service.flow import Applied, Clock, MobileMoney, Source
from sika.payments.states import PAYOUT_STATES, PayoutStatus, ReportedPayoutStatus
from sika.providers import base as provider_base
from sika.providers import calls as provider_calls
from sika.providers import errors as provider_errors
from sika.providers import events as provider_events
from sika.providers import failover
from sika.wallets import models as wallets_models
from sika.wallets import service as wallets_service


class NoPayoutProvider(errors.ValidationFailed):
    """No provider is configured to pay out in this currency."""

    code = "no_payout_provider"


@dataclass(frozen=True)
class PayoutUpdate:
    """News about a payout, whatever brought it."""

    source: Source
    provider: provider_base.ProviderName
    status: ReportedPayoutStatus
    provider_reference: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    detail: str | None = None


def hold_owner(payout_id: str) -> wallets_service.HoldOwner:
    """The identity a payout's flow resolves its hold with: the hold's owner."""
    return wallets_service.HoldOwner(wallets_models.HoldOwnerType.payout, payout_id)


Recorded = Callable[[AsyncSession, Payout], Awaitable[None]]
"""What a caller records beside a payout it starts, in the payout's first phase (its
transaction): an escrow notes the payout its milestone's release started."""


async def create_payout(
    phases: Phases,
    *,
    party_id: str,
    wallet_id: str,
    amount_minor: int,
    currency: str,
    destination: MobileMoney,
    recipient_name: str,
    reason: str = "",
    providers: failover.CollectionRouter,
    payout_providers: dict[str, str],
    idempotency_key: str | None,
    actor: Actor,
    clock: Clock,
    recorded: Recorded | None = None,
) -> Payout:
    """Hold the amount on the wallet, then ask the provider to pay it out with
    the payout's id as its reference (and idempotency key); return the payout
    as the provider's answer left it. ``recorded`` commits with the payout's first phase."""
    session = phases.first
    now = clock()
    party, wallet = await flow.party_and_wallet(
        session, party_id=party_id, wallet_id=wallet_id, currency=currency, actor=actor
    )
    provider_name, provider = _payout_provider(providers, payout_providers, currency=currency)
    payout_id = ids.new_id("po")
    hold = await wallets_service.place_hold(
        session,
        wallet_id=wallet.id,
        amount_minor=amount_minor,
        reason="payout",
        reference=payout_id,
        expires_in_seconds=None,
        owner=hold_owner(payout_id),
        actor=actor,
        now=now,
    )
    payout = _new_payout(
        payout_id,
        party,
        wallet,
        amount_minor=amount_minor,
        destination=destination,
        recipient_name=recipient_name,
        reason=reason,
        provider=provider_name,
        hold_id=hold.pending.id,
        idempotency_key=idempotency_key,
        actor=actor,
        now=now,
    )
    payout = await flow.insert(session, payout)
    await _announce(session, payout, now=now, actor=actor, data={"amount_minor": amount_minor})
    if recorded is not None:
        await recorded(session, payout)
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
    with provider_calls.recording() as notes:
        try:
            update = payout_update_from_result(await provider.payout(request), Source.api)
        except provider_errors.ProviderError as exc:
            update = payout_update_from_error(exc, provider=provider_name)
    async with phases.phase() as session:
        await calls.store(session, notes, payment=payout)
        payout, _ = await apply_payout_update(session, payout_id=payout.id, update=update, now=clock(), actor=actor)
    return payout


def _payout_provider(
    providers: failover.CollectionRouter, payout_providers: dict[str, str], *, currency: str
) -> tuple[provider_base.ProviderName, provider_base.PaymentProvider]:
    """The one provider that pays out ``currency``: payouts do not fail over."""
    provider_name = flow.provider_name(payout_providers.get(currency))
    if provider_name is None:
        raise NoPayoutProvider(f"No provider is configured to pay out {currency}.")
    try:
        return provider_name, providers.provider(provider_name)
    except KeyError:
        raise NoPayoutProvider(f"{provider_name.value} pays out {currency} but is not configured.") from None


def _new_payout(
    payout_id: str,
    party: parties_models.Party,
    wallet: wallets_models.Wallet,
    *,
    amount_minor: int,
    destination: MobileMoney,
    recipient_name: str,
    reason: str,
    provider: provider_base.ProviderName,
    hold_id: str,
    idempotency_key: str | None,
    actor: Actor,
    now: datetime,
) -> Payout:
    """The payout as its first phase records it: ``initiated``, its hold placed."""
    return Payout(
        id=payout_id,
        party_id=party.id,
        platform_id=party.platform_id,
        wallet_id=wallet.id,
        amount_minor=amount_minor,
        currency=wallet.currency,
        operator=destination.operator.value,
        phone=destination.phone,
        country=destination.country or party.country,
        recipient_name=recipient_name,
        reason=reason,
        status=PayoutStatus.initiated.value,
        provider=provider.value,
        provider_reference=None,
        hold_id=hold_id,
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


async def get_payout(session: AsyncSession, *, payout_id: str, actor: Actor) -> Payout:
    return await flow.owned(session, Payout, payout_id, actor=actor)


async def list_payouts(
    session: AsyncSession,
    *,
    party_id: str | None,
    wallet_id: str | None,
    status: PayoutStatus | None,
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
        failure_code="failed" if result.status is ReportedPayoutStatus.failed else None,
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
            source=Source.api, provider=provider, status=ReportedPayoutStatus.pending, detail="outcome_unknown"
        )
    return PayoutUpdate(
        source=Source.api,
        provider=provider,
        status=ReportedPayoutStatus.failed,
        provider_reference=exc.provider_reference,
        failure_code=flow.failure_code(exc),
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
        failure_code="failed" if event.payout_status is ReportedPayoutStatus.failed else None,
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
    """Apply news about a payout under its row lock, so the state moves forward
    only and its hold is resolved once (see ``sika.payments.service``)."""
    payout = await flow.locked(session, Payout, payout_id)
    current = PayoutStatus(payout.status)
    if update.provider.value != payout.provider:
        await _alert(
            session,
            payout,
            update,
            kind="payout.provider_disagreement",
            message=f"Payout {payout.id} went to {payout.provider}, but {update.provider.value} reports on it.",
        )
        return payout, Applied.disagreement
    learned = flow.learn_reference(payout, update.provider_reference)
    target = _target(current, update)

    async def contradicted() -> None:
        assert target is not None
        await _alert(
            session,
            payout,
            update,
            kind="payout.provider_disagreement",
            message=(
                f"Payout {payout.id} is {current.value} in Sika, but {update.provider.value} "
                f"says {target.value} ({update.source.value}: {update.detail})."
            ),
        )

    stopped = await flow.judged(
        session,
        payout,
        machine=PAYOUT_STATES,
        current=current,
        target=target,
        learned=learned,
        source=update.source,
        now=now,
        contradicted=contradicted,
    )
    if stopped is not None:
        return payout, stopped
    assert target is not None
    if target in (PayoutStatus.succeeded, PayoutStatus.reversed) and _amount_differs(payout, update):
        await _alert(
            session,
            payout,
            update,
            kind="payout.amount_mismatch",
            message=(
                f"Payout {payout.id} of {payout.amount_minor} {payout.currency}: {update.provider.value} "
                f"reports {update.amount_minor} {update.currency} ({update.source.value}). The hold stays as it is."
            ),
        )
        await flow.touched(session, payout, learned, now=now)
        return payout, Applied.mismatch
    await _advance(session, payout, update, current=current, target=target, now=now, actor=actor)
    return payout, Applied.changed


def _amount_differs(payout: Payout, update: PayoutUpdate) -> bool:
    """A provider that names an amount or currency names the payout's own."""
    return (update.amount_minor is not None and update.amount_minor != payout.amount_minor) or (
        update.currency is not None and update.currency != payout.currency
    )


async def _advance(
    session: AsyncSession,
    payout: Payout,
    update: PayoutUpdate,
    *,
    current: PayoutStatus,
    target: PayoutStatus,
    now: datetime,
    actor: Actor,
) -> None:
    """Move the payout to ``target`` with what it does to the hold."""
    if target is PayoutStatus.succeeded:
        await _capture_hold(session, payout, now=now, actor=actor)
    elif target is PayoutStatus.failed:
        await wallets_service.release_hold(
            session, hold_id=payout.hold_id, owner=hold_owner(payout.id), actor=actor, now=now
        )
        payout.failure_code = (update.failure_code or "failed")[:100]
        payout.failure_message = flow.clip(update.failure_message)
    elif target is PayoutStatus.reversed:
        if current is PayoutStatus.succeeded:
            payout.reversal_transfer_id = await _give_back(session, payout, now=now, actor=actor)
        else:
            await wallets_service.release_hold(
                session, hold_id=payout.hold_id, owner=hold_owner(payout.id), actor=actor, now=now
            )
        payout.failure_code = "reversed"
        payout.failure_message = flow.clip(update.failure_message)
    elif update.status is ReportedPayoutStatus.requires_otp:
        await _alert(
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
    flow.move(payout, target, machine=PAYOUT_STATES, now=now)
    await _announce(
        session, payout, now=now, actor=actor, data={"source": update.source.value, "detail": update.detail}
    )


def _target(current: PayoutStatus, update: PayoutUpdate) -> PayoutStatus | None:
    if update.status is ReportedPayoutStatus.succeeded:
        return PayoutStatus.succeeded
    if update.status is ReportedPayoutStatus.failed:
        return PayoutStatus.failed
    if update.status is ReportedPayoutStatus.reversed:
        return PayoutStatus.reversed
    if current is PayoutStatus.initiated:
        return PayoutStatus.processing
    return None


async def _capture_hold(session: AsyncSession, payout: Payout, *, now: datetime, actor: Actor) -> None:
    clearing = await flow.clearing_account(
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


async def _give_back(session: AsyncSession, payout: Payout, *, now: datetime, actor: Actor) -> str:
    return await flow.from_clearing(
        session,
        payout,
        provider=payout.provider,
        code="payout.reversed",
        transfer_id=f"{payout.id}.reversal",
        metadata={"payout_id": payout.id, "provider": payout.provider},
        now=now,
        actor=actor,
    )


async def _alert(
    session: AsyncSession,
    payout: Payout,
    update: PayoutUpdate,
    *,
    kind: str,
    message: str,
    severity: str = "critical",
) -> None:
    await flow.alert_once(
        session,
        kind=kind,
        severity=severity,
        message=message,
        entity_type="payout",
        entity_id=payout.id,
        platform_id=payout.platform_id,
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


async def _announce(
    session: AsyncSession, payout: Payout, *, now: datetime, actor: Actor, data: dict[str, Any]
) -> None:
    await repository.flush(session)
    shown = schemas.payout_out(payout).model_dump(mode="json")
    await flow.announce(session, payout, "payout", shown=shown, now=now, actor=actor, data=data)
