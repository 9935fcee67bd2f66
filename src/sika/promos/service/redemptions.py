"""What a payment flow calls: check a code, compute its discount, then reserve
a use when the payment starts and confirm or free it with its outcome.

All of it runs inside the caller's transaction and never commits: the caller's
own change (an instalment's payment starting) and the code's use are one
atomic step. A refusal raises before anything is written."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids, money
from sika.promos import repository
from sika.promos.models import HOLDING_STATES, PromoCode, PromoRedemption
from sika.promos.service.errors import (
    PromoCodeAlreadyRedeemed,
    PromoCodeExhausted,
    PromoCodeExpired,
    PromoCodeInactive,
    PromoCodeInvalid,
    PromoCodeNotApplicable,
    PromoCodeNotYetValid,
    PromoRedemptionNotFound,
    PromoRedemptionStateConflict,
)

BPS = 10_000
"""Basis points in a whole."""


async def check_code(
    session: AsyncSession,
    *,
    platform_id: str,
    code: str,
    party_id: str,
    currency: str,
    plan_id: str | None,
    at: datetime,
) -> PromoCode:
    """The platform's promo code ``code`` (any case), if ``party_id`` may use it
    on a payment in ``currency`` (of plan ``plan_id``, if any) at ``at``.

    Raises one error per reason, the first that applies in this order:
    ``PromoCodeInvalid`` (no such code), ``PromoCodeInactive``,
    ``PromoCodeNotYetValid``, ``PromoCodeExpired`` (at or after ``expires_at``),
    ``PromoCodeNotApplicable`` (another currency, or a plan the code is not
    restricted to; ``reason`` says which), ``PromoCodeExhausted`` (its uses in
    total or the party's, reserved and confirmed, are at their maximum; ``limit``
    says which). All answer 422. Reads only: ``reserve`` takes the use, exactly."""
    promo = await repository.by_code(session, platform_id=platform_id, code=code)
    if promo is None:
        raise PromoCodeInvalid(f"The platform has no promo code {code!r}.")
    if not promo.active:
        raise PromoCodeInactive(f"Promo code {promo.code!r} has been deactivated.")
    if at < promo.starts_at:
        raise PromoCodeNotYetValid(f"Promo code {promo.code!r} is valid from {promo.starts_at.isoformat()}.")
    if promo.expires_at is not None and at >= promo.expires_at:
        raise PromoCodeExpired(f"Promo code {promo.code!r} expired at {promo.expires_at.isoformat()}.")
    _check_applicable(promo, currency=currency, plan_id=plan_id)
    await _check_uses(session, promo, party_id=party_id)
    return promo


def discount_minor(promo: PromoCode, *, base_minor: int, currency: str) -> int:
    """What ``promo`` takes off ``base_minor`` (in ``currency``'s minor unit),
    between 0 and ``base_minor``.

    A percent off is ``base_minor × bps / 10,000`` rounded half-up to the
    currency's minor unit (one franc in XOF, one cent in EUR), in integers:
    1 bps of 25,000 XOF is 2.5 francs, so 3. An amount off is that amount,
    never more than the base. A code of another currency raises
    ``PromoCodeNotApplicable``: its amount would be counted in the wrong unit."""
    money.check_currency(currency)
    _check_currency(promo, currency=currency)
    if base_minor <= 0:
        return 0
    if promo.percent_off_bps is not None:
        off = (base_minor * promo.percent_off_bps * 2 + BPS) // (2 * BPS)
    else:
        off = promo.amount_off_minor or 0
    return max(0, min(off, base_minor))


async def reserve(
    session: AsyncSession,
    *,
    promo: PromoCode,
    subject_id: str,
    party_id: str,
    amount_off_minor: int,
    now: datetime,
) -> PromoRedemption:
    """Reserve one use of ``promo`` for ``subject_id`` (an instalment's id) by
    ``party_id``, discounting ``amount_off_minor``.

    Takes the code's row lock, then counts: the maximums (in total and per
    party) hold exactly however many reservations run at once. A subject has at
    most one redemption per code (unique in the database): a ``freed`` one is
    reserved again, a ``reserved`` or ``confirmed`` one raises
    ``PromoCodeAlreadyRedeemed`` (409). A code at its maximum raises
    ``PromoCodeExhausted``; one deactivated since it was checked,
    ``PromoCodeInactive``. Never commits."""
    locked = await repository.lock(session, promo.id)
    if locked is None:
        raise PromoCodeInvalid(f"The platform has no promo code {promo.code!r}.")
    if not locked.active:
        raise PromoCodeInactive(f"Promo code {locked.code!r} has been deactivated.")
    held = await repository.redemption(session, subject_id=subject_id, promo_code_id=locked.id)
    if held is not None and held.state in HOLDING_STATES:
        raise PromoCodeAlreadyRedeemed(
            f"Promo code {locked.code!r} is already {held.state} for {subject_id}.", state=held.state
        )
    await _check_uses(session, locked, party_id=party_id)
    if held is None:
        held = PromoRedemption(
            id=ids.new_id("prd"),
            platform_id=locked.platform_id,
            promo_code_id=locked.id,
            subject_id=subject_id,
        )
    held.party_id = party_id
    held.state = "reserved"
    held.amount_off_minor = amount_off_minor
    held.reserved_at = now
    held.updated_at = now
    await repository.add(session, held)
    await repository.count_use(session, locked, +1)
    return held


async def confirm(session: AsyncSession, *, subject_id: str, promo_code_id: str, now: datetime) -> PromoRedemption:
    """The payment succeeded: the subject's ``reserved`` redemption becomes
    ``confirmed`` and keeps its use for good. Confirming a confirmed one changes
    nothing; a freed one raises ``PromoRedemptionStateConflict``. Never commits."""
    held = await _redemption(session, subject_id=subject_id, promo_code_id=promo_code_id)
    if held.state == "confirmed":
        return held
    if held.state != "reserved":
        raise PromoRedemptionStateConflict(f"The redemption is {held.state}: only a reserved one is confirmed.")
    held.state = "confirmed"
    held.updated_at = now
    await session.flush()
    return held


async def free(session: AsyncSession, *, subject_id: str, promo_code_id: str, now: datetime) -> PromoRedemption:
    """The payment failed or was abandoned: the subject's ``reserved``
    redemption becomes ``freed`` and gives its use back (the subject may reserve
    the code again). Freeing a freed one changes nothing; a confirmed one raises
    ``PromoRedemptionStateConflict``. Never commits."""
    # The code's lock first, as reserve takes it: the two never wait on each other in turn.
    if await repository.lock(session, promo_code_id) is None:
        raise PromoRedemptionNotFound()
    held = await _redemption(session, subject_id=subject_id, promo_code_id=promo_code_id)
    if held.state == "freed":
        return held
    if held.state != "reserved":
        raise PromoRedemptionStateConflict(f"The redemption is {held.state}: only a reserved one is freed.")
    held.state = "freed"
    held.updated_at = now
    await session.flush()
    promo = await repository.get(session, promo_code_id)
    if promo is not None:
        await repository.count_use(session, promo, -1)
    return held


async def _redemption(session: AsyncSession, *, subject_id: str, promo_code_id: str) -> PromoRedemption:
    held = await repository.redemption(session, subject_id=subject_id, promo_code_id=promo_code_id)
    if held is None:
        raise PromoRedemptionNotFound()
    return held


def _check_currency(promo: PromoCode, *, currency: str) -> None:
    if promo.currency is not None and promo.currency != currency:
        raise PromoCodeNotApplicable(
            f"Promo code {promo.code!r} applies to {promo.currency} only, not {currency}.", reason="currency"
        )


def _check_applicable(promo: PromoCode, *, currency: str, plan_id: str | None) -> None:
    _check_currency(promo, currency=currency)
    if promo.plan_ids and plan_id not in promo.plan_ids:
        raise PromoCodeNotApplicable(f"Promo code {promo.code!r} does not apply to this plan.", reason="plan")


async def _check_uses(session: AsyncSession, promo: PromoCode, *, party_id: str) -> None:
    if promo.max_redemptions is not None and promo.uses >= promo.max_redemptions:
        raise PromoCodeExhausted(
            f"Promo code {promo.code!r} has been used {promo.uses} of {promo.max_redemptions} times.", limit="total"
        )
    if promo.max_redemptions_per_party is None:
        return
    used = await repository.party_uses(session, promo_code_id=promo.id, party_id=party_id)
    if used >= promo.max_redemptions_per_party:
        raise PromoCodeExhausted(
            f"Promo code {promo.code!r} has been used {used} of {promo.max_redemptions_per_party} times by this party.",
            limit="per_party",
        )
