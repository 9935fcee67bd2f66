"""Auto-payout: after each release of an escrow with ``auto_payout``, one payout of
what the release put in the beneficiary's wallet (the amount less the fee) to
the beneficiary's mobile money, through the payments flow.

The release marks the milestone's auto-payout ``due`` and defers
``escrow.auto_payout`` in its own transaction: the job exists if and only if
the release committed. The job starts the payout in the payout flow's phases
(the hold and the payout recorded and committed, the provider called with no
transaction open, its answer recorded after); the payout's first phase also
moves the milestone to ``started`` with the payout's id. Under the escrow's lock,
only a ``due`` milestone starts a payout, so a job run twice (its worker killed,
the job retried) starts one; a payout whose first phase committed is finished by
the payments flow (its webhook, reconciliation), never started again. A wallet
that refuses the hold (the money spent since, the party suspended) keeps the
money: the milestone's auto-payout is ``refused`` and its event says why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.escrow import repository
from sika.escrow.models import Escrow, EscrowMilestone
from sika.escrow.service import announce
from sika.escrow.states import AutoPayout
from sika.jobs import app as jobs_app
from sika.parties import service as parties_service
from sika.payments import service as payments_service
from sika.payments.models import Payout
from sika.providers import base as provider_base
from sika.providers import failover

AUTO_PAYOUT_TASK = "escrow.auto_payout"


def released_to(escrow: Escrow) -> str:
    """Where released money ends up, for the escrow's events."""
    return "wallet" if escrow.payout_operator is None else "mobile_money"


async def defer_payout(session: AsyncSession, escrow: Escrow, milestone: EscrowMilestone) -> None:
    """In the release's transaction: the milestone's payout is due, its job deferred."""
    net = milestone.released_minor - milestone.fee_paid_minor
    if escrow.payout_operator is None or net <= 0:
        return
    milestone.payout_state = AutoPayout.due.value
    await jobs_app.defer(session, AUTO_PAYOUT_TASK, escrow_id=escrow.id, number=milestone.number)


async def pay_out(
    phases: Phases,
    *,
    escrow_id: str,
    number: int,
    providers: failover.CollectionRouter,
    payout_providers: dict[str, str],
    actor: Actor,
    clock: payments_service.Clock,
) -> Payout | None:
    """Start the payout of milestone ``number``'s release, if it is due; the payout as
    the provider's answer left it, or None when there was nothing to start."""
    session = phases.first
    escrow = await repository.get_for_update(session, escrow_id)
    milestone = await repository.milestone_for_update(session, escrow_id, number)
    if escrow is None or milestone is None or milestone.payout_state != AutoPayout.due.value:
        return None
    assert escrow.payout_operator is not None
    assert escrow.payout_phone is not None
    beneficiary = await parties_service.get_party(session, party_id=escrow.beneficiary_party_id, actor=actor)
    net = milestone.released_minor - milestone.fee_paid_minor

    async def recorded(session: AsyncSession, payout: Payout) -> None:
        milestone.payout_state = AutoPayout.started.value
        milestone.payout_id = payout.id
        data = {"number": number, "payout_id": payout.id, "amount_minor": net, "phone": payout.phone}
        await _changed(session, escrow, "escrow.auto_payout_started", actor=actor, now=payout.created_at, data=data)

    try:
        return await payments_service.create_payout(
            phases,
            party_id=beneficiary.id,
            wallet_id=escrow.beneficiary_wallet_id,
            amount_minor=net,
            currency=escrow.currency,
            destination=payments_service.MobileMoney(
                operator=provider_base.MobileOperator(escrow.payout_operator),
                phone=escrow.payout_phone,
                country=escrow.payout_country,
            ),
            recipient_name=beneficiary.display_name,
            reason=f"Escrow {escrow.id}, milestone {number}",
            providers=providers,
            payout_providers=payout_providers,
            idempotency_key=f"{escrow.id}.m{number}.payout",
            actor=actor,
            clock=clock,
            recorded=recorded,
        )
    except errors.SikaError as exc:
        if phases.first_committed:
            raise
        await phases.first.rollback()
        refusal = exc
    async with phases.phase() as session:
        await _refused(session, escrow_id=escrow_id, number=number, refusal=refusal, actor=actor, now=clock())
    return None


async def _refused(
    session: AsyncSession, *, escrow_id: str, number: int, refusal: errors.SikaError, actor: Actor, now: datetime
) -> None:
    """The wallet (or the payout flow) refused: the money stays in the beneficiary's wallet."""
    escrow = await repository.get_for_update(session, escrow_id)
    milestone = await repository.milestone_for_update(session, escrow_id, number)
    if escrow is None or milestone is None or milestone.payout_state != AutoPayout.due.value:
        return
    milestone.payout_state = AutoPayout.refused.value
    data = {"number": number, "code": refusal.code, "detail": refusal.detail, "released_to": "wallet"}
    await _changed(session, escrow, "escrow.auto_payout_refused", actor=actor, now=now, data=data)


async def _changed(
    session: AsyncSession, escrow: Escrow, action: str, *, actor: Actor, now: datetime, data: dict[str, object]
) -> None:
    escrow.updated_at = now
    await session.flush()
    await announce.event(session, escrow, action, now=now, data=data)
    await announce.audit(session, escrow, action, actor=actor, data=data)
