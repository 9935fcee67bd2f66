"""The spend catalogue of a platform: categories (a code, labels in English and
French) and merchants (a party in a category), certified or decertified by an
operator (support or admin; the router refuses any other key)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids, paging
from sika.core.context import Actor
from sika.mandates import repository, schemas
from sika.mandates.models import Merchant, SpendCategory
from sika.mandates.service import announce
from sika.mandates.service.access import as_platform
from sika.mandates.service.errors import MerchantExists, MerchantNotFound, SpendCategoryExists, SpendCategoryNotFound
from sika.parties import service as parties_service
from sika.platforms import service as platforms_service
from sika.wallets import service as wallets_service


async def create_category(
    session: AsyncSession, *, body: schemas.SpendCategoryCreate, actor: Actor, now: datetime
) -> SpendCategory:
    platform_id = await platforms_service.platform_for_new(session, actor=actor, requested=body.platform_id)
    if await repository.category_by_code(session, platform_id=platform_id, code=body.code) is not None:
        raise SpendCategoryExists(f"The platform already has a spend category {body.code!r}.")
    category = SpendCategory(
        id=ids.new_id("cat"),
        platform_id=platform_id,
        code=body.code,
        label_en=body.label_en,
        label_fr=body.label_fr,
        created_at=now,
    )
    await repository.add(session, category)
    return category


async def list_categories(session: AsyncSession, *, page: paging.Page) -> Sequence[SpendCategory]:
    return await repository.list_categories(session, page=page)


async def create_merchant(
    session: AsyncSession, *, body: schemas.MerchantCreate, actor: Actor, now: datetime
) -> Merchant:
    """A merchant, not certified until an operator says so."""
    party = await parties_service.get_party(session, party_id=body.party_id, actor=actor)
    category = await repository.category(session, body.category_id)
    if category is None or category.platform_id != party.platform_id:
        raise SpendCategoryNotFound()
    if await repository.merchant_of_party(session, platform_id=party.platform_id, party_id=party.id) is not None:
        raise MerchantExists(f"Party {party.id} is already a merchant.")
    merchant = Merchant(
        id=ids.new_id("mer"),
        platform_id=party.platform_id,
        party_id=party.id,
        category_id=category.id,
        certified=False,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, merchant)
    return merchant


async def get_merchant(session: AsyncSession, *, merchant_id: str) -> Merchant:
    merchant = await repository.merchant(session, merchant_id)
    if merchant is None:
        raise MerchantNotFound()
    return merchant


async def list_merchants(session: AsyncSession, *, certified: bool | None, page: paging.Page) -> Sequence[Merchant]:
    return await repository.list_merchants(session, certified=certified, page=page)


async def certify(session: AsyncSession, *, merchant_id: str, certified: bool, actor: Actor, now: datetime) -> Merchant:
    """An operator certifies (or decertifies) a merchant, with an audit row; saying
    what it already is changes nothing and writes nothing."""
    merchant = await repository.merchant(session, merchant_id, for_update=True)
    if merchant is None:
        raise MerchantNotFound()
    if merchant.certified == certified:
        return merchant
    merchant.certified = certified
    merchant.certified_at = now if certified else None
    merchant.certified_by = actor.id
    merchant.updated_at = now
    await session.flush()
    action = "merchant.certified" if certified else "merchant.decertified"
    await announce.audit_merchant(session, merchant, action, actor=actor, data={"party_id": merchant.party_id})
    return merchant


async def merchant_wallet(session: AsyncSession, merchant: Merchant, *, currency: str, actor: Actor) -> str | None:
    """The merchant's wallet in ``currency``, whoever asks (a beneficiary pays a merchant it does not own)."""
    return await wallets_service.party_wallet_id(
        session, party_id=merchant.party_id, currency=currency, actor=as_platform(actor)
    )
