"""Admitting money from one party to another: the platform's policy, the
sender's limits, the fraud rules, in the transaction that moves the money.

``admit`` is called by wallets wherever money leaves a wallet for another
party's (a transfer, a hold captured to another party's wallet), after the
sender's party is share-locked and before the ledger's accounts are: so one
sender's movements in one currency take turns here (``lock_sender``) and the
totals its limits are read from cannot change before its transaction ends.
A refusal raises and writes nothing; a fraud rule that blocks keeps its alert
(``errors.RefusalWithRecord``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors
from sika.p2p import repository
from sika.p2p.models import Movement
from sika.p2p.service import fraud
from sika.p2p.service.values import Outgoing
from sika.platforms import schemas as platform_schemas
from sika.platforms import service as platforms_service

LIMIT_DAYS = 30
"""The long window of the limits: today and the 29 days before it, in the platform's time zone."""


class RecipientNotAllowlisted(errors.Conflict):
    """The platform lets a party send only to the recipients on its allowlist, and this one is not."""

    code = "p2p_recipient_not_allowlisted"


class RecipientNotCertified(errors.Conflict):
    """The platform lets a party send only to certified recipients, and this one is not certified enough."""

    code = "p2p_recipient_not_certified"


class LimitExceeded(errors.Conflict):
    """The amount is beyond what the sender's certification level may send."""

    code = "p2p_limit_exceeded"


def platform_day(now: datetime, settings: platform_schemas.PlatformSettings) -> date:
    return now.astimezone(ZoneInfo(settings.time_zone)).date()


def limits_for(settings: platform_schemas.PlatformSettings, level: int) -> platform_schemas.P2PLimits:
    """The limits of the highest level listed at or below ``level``; none if no level is."""
    listed = sorted((int(key), limits) for key, limits in settings.p2p_limits.items() if int(key) <= level)
    return listed[-1][1] if listed else platform_schemas.P2PLimits()


async def admit(session: AsyncSession, *, outgoing: Outgoing, now: datetime) -> None:
    """Check ``outgoing`` against its platform's rules and count it; raise the refusal if any."""
    platform = await platforms_service.get_platform(session, platform_id=outgoing.platform_id)
    settings = platforms_service.settings_of(platform)
    standing = await repository.lock_sender(
        session,
        party_id=outgoing.sender_party_id,
        recipient_party_id=outgoing.recipient_party_id,
        currency=outgoing.currency,
    )
    _check_policy(outgoing, settings, standing)
    day = platform_day(now, settings)
    await _check_limits(session, outgoing, limits_for(settings, standing.sender_level), standing.sender_level, day=day)
    await fraud.check(session, outgoing=outgoing, rules=settings.fraud_rules, day_start=_start(day, settings), now=now)
    await repository.count_movement(session, _as_row(outgoing, now), day=day)


def _check_policy(
    outgoing: Outgoing, settings: platform_schemas.PlatformSettings, standing: repository.Standing
) -> None:
    policy = settings.p2p_policy
    if policy is platform_schemas.P2PPolicy.allowlist and not standing.allowlisted:
        raise RecipientNotAllowlisted(
            f"Party {outgoing.recipient_party_id} is not on the allowlist of party {outgoing.sender_party_id}."
        )
    if policy is platform_schemas.P2PPolicy.certified and standing.recipient_level < settings.p2p_certified_level:
        raise RecipientNotCertified(
            f"Party {outgoing.recipient_party_id} is certified at level {standing.recipient_level};"
            f" the platform requires {settings.p2p_certified_level}."
        )


async def _check_limits(
    session: AsyncSession, outgoing: Outgoing, limits: platform_schemas.P2PLimits, level: int, *, day: date
) -> None:
    amount, unit = outgoing.amount_minor, f"minor units of {outgoing.currency}"
    if limits.per_transfer_minor is not None and amount > limits.per_transfer_minor:
        raise LimitExceeded(
            f"{amount} exceeds the limit of {limits.per_transfer_minor} per transfer at level {level} ({unit})."
        )
    if limits.per_day_minor is None and limits.per_30_days_minor is None:
        return
    # Read under the sender's lock: no other movement of it can change these before this one commits.
    today, in_30_days = await repository.sent_in_windows(
        session,
        party_id=outgoing.sender_party_id,
        currency=outgoing.currency,
        today=day,
        first_day=day - timedelta(days=LIMIT_DAYS - 1),
    )
    windows = ((limits.per_day_minor, today, "today"), (limits.per_30_days_minor, in_30_days, "in 30 days"))
    for limit, sent, words in windows:
        if limit is not None and sent + amount > limit:
            raise LimitExceeded(
                f"Party {outgoing.sender_party_id} has sent {sent} {words}; {amount} more exceeds the limit"
                f" of {limit} at level {level} ({unit})."
            )


def _start(day: date, settings: platform_schemas.PlatformSettings) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(settings.time_zone))


def _as_row(outgoing: Outgoing, now: datetime) -> Movement:
    return Movement(
        id=outgoing.id,
        kind=outgoing.kind,
        platform_id=outgoing.platform_id,
        sender_party_id=outgoing.sender_party_id,
        recipient_party_id=outgoing.recipient_party_id,
        currency=outgoing.currency,
        amount_minor=outgoing.amount_minor,
        created_at=now,
    )
