"""Platforms: creating and changing them (admin), which platform a new object
belongs to, and the fee a platform takes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core import errors, ids, paging
from sika.core.context import Actor
from sika.platforms import repository, schemas
from sika.platforms.models import Platform


class PlatformNotFound(errors.NotFound):
    """No such platform (or not one this caller may see)."""

    code = "platform_not_found"


class PlatformRequired(errors.ValidationFailed):
    """This installation has several platforms: say which one with platform_id."""

    code = "platform_required"


class BoundKeyCannotCreatePlatforms(errors.PermissionDenied):
    """Only a key bound to no platform (an operator of the installation) creates platforms."""

    code = "bound_key_cannot_create_platforms"


async def create_platform(
    session: AsyncSession, *, body: schemas.PlatformCreate, actor: Actor, now: datetime
) -> Platform:
    if actor.platform_id is not None:
        raise BoundKeyCannotCreatePlatforms()
    platform = Platform(
        id=ids.new_id("plt"),
        name=body.name,
        default_currency=body.default_currency,
        fee_policy={currency: rule.model_dump() for currency, rule in body.fee_policy.items()},
        settings=body.settings.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, platform)
    await audit_service.record(
        session,
        actor=actor,
        platform_id=platform.id,
        action="platform.created",
        entity_type="platform",
        entity_id=platform.id,
        data={"name": platform.name, "default_currency": platform.default_currency},
    )
    return platform


async def get_platform(session: AsyncSession, *, platform_id: str) -> Platform:
    platform = await repository.get(session, platform_id)
    if platform is None:
        raise PlatformNotFound()
    return platform


async def list_platforms(session: AsyncSession, *, page: paging.Page) -> Sequence[Platform]:
    return await repository.list_platforms(session, page=page)


async def update_platform(
    session: AsyncSession, *, platform_id: str, body: schemas.PlatformUpdate, actor: Actor, now: datetime
) -> Platform:
    platform = await repository.get_for_update(session, platform_id)
    if platform is None:
        raise PlatformNotFound()
    changed = sorted(body.model_fields_set)
    if body.name is not None:
        platform.name = body.name
    if body.default_currency is not None:
        platform.default_currency = body.default_currency
    if body.fee_policy is not None:
        platform.fee_policy = {currency: rule.model_dump() for currency, rule in body.fee_policy.items()}
    if body.settings is not None:
        platform.settings = body.settings.model_dump(mode="json")
    if changed:
        platform.updated_at = now
        await session.flush()
        await audit_service.record(
            session,
            actor=actor,
            platform_id=platform.id,
            action="platform.updated",
            entity_type="platform",
            entity_id=platform.id,
            data={"fields": changed},
        )
    return platform


async def platform_for_new(session: AsyncSession, *, actor: Actor, requested: str | None) -> str:
    """The platform a new object (a party, an API key, a ledger account) belongs to.

    A caller bound to a platform creates under it: naming another one answers 404,
    as any other platform's object would. A global operator names the platform,
    or leaves it out when the installation has only one."""
    if actor.platform_id is not None:
        if requested is not None and requested != actor.platform_id:
            raise PlatformNotFound()
        return actor.platform_id
    if requested is not None:
        return (await get_platform(session, platform_id=requested)).id
    only = await repository.only_one(session)
    if only is None:
        raise PlatformRequired()
    return only.id


def settings_of(platform: Platform) -> schemas.PlatformSettings:
    return schemas.PlatformSettings.model_validate(platform.settings)


def fee_for(platform: Platform, *, currency: str, amount_minor: int) -> int:
    """The platform's fee on ``amount_minor``: its percentage rounded down to the
    minor unit plus its fixed part, never more than the amount; 0 in a currency
    its policy does not name."""
    rule = platform.fee_policy.get(currency)
    if rule is None:
        return 0
    parsed = schemas.FeeRule.model_validate(rule)
    fee = amount_minor * parsed.percent_bps // schemas.MAX_BPS + parsed.fixed_minor
    return min(fee, amount_minor)


async def fee_of_platform(session: AsyncSession, *, platform_id: str, currency: str, amount_minor: int) -> int:
    return fee_for(await get_platform(session, platform_id=platform_id), currency=currency, amount_minor=amount_minor)
