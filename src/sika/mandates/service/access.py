"""Who may see a mandate and who may act on it, and the locked reads every
move of its money starts with.

An API key with the route's scope acts for the platform (the router checks the
scope; the session's platform filter hides other platforms' mandates). A party
token reaches only the mandates its party is the sender or the beneficiary of
(``not_owned_by_party`` otherwise, as for wallets), and acts only in its role:
the sender creates, tops up, revokes and names payees; the beneficiary buys
and spends."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.mandates import repository
from sika.mandates.models import Mandate, MandatePayee
from sika.mandates.service.errors import (
    MandateActionNotAllowed,
    MandateExpired,
    MandateInsufficient,
    MandateNotActive,
    MandateNotFound,
)
from sika.mandates.states import MandateStatus
from sika.parties import service as parties_service


class Role(StrEnum):
    sender = "sender"
    beneficiary = "beneficiary"


@dataclass(frozen=True)
class MandateView:
    mandate: Mandate
    payees: list[MandatePayee]
    spent_today: dict[str, int]
    """What each payee was paid today (the platform's time zone)."""


def as_platform(actor: Actor) -> Actor:
    """The actor with its party binding dropped, to look up a counterparty (the
    beneficiary, a merchant, a payee) that a party token names but does not own;
    the session's platform filter still keeps the look-up on the caller's platform."""
    return replace(actor, party_id=None)


def check_reader(actor: Actor, mandate: Mandate) -> None:
    """A party token sees only the mandates its party is in."""
    if actor.is_party and actor.party_id not in (mandate.sender_party_id, mandate.beneficiary_party_id):
        raise parties_service.NotOwnedByParty()


def check_role(actor: Actor, mandate: Mandate, role: Role, action: str) -> None:
    """A party token acts only as ``role``; an API key acts for the platform."""
    check_reader(actor, mandate)
    party = mandate.sender_party_id if role is Role.sender else mandate.beneficiary_party_id
    if actor.is_party and actor.party_id != party:
        raise MandateActionNotAllowed(f"Only the {role.value} (or the platform) may {action} on mandate {mandate.id}.")


async def readable(session: AsyncSession, *, mandate_id: str, actor: Actor) -> Mandate:
    mandate = await repository.get(session, mandate_id)
    if mandate is None:
        raise MandateNotFound()
    check_reader(actor, mandate)
    return mandate


async def locked_active(
    session: AsyncSession,
    *,
    mandate_id: str,
    actor: Actor,
    role: Role,
    action: str,
    now: datetime,
    spending: bool = False,
) -> Mandate:
    """The mandate, locked until the transaction ends, once ``actor`` may act on it as
    ``role`` and it is active and not past its expiry. A purchase racing the minute
    job waits for the row: it then finds the mandate expired, or went first. Paying
    from a consumed mandate is refused as paying past what is left (``spending``)."""
    mandate = await repository.get_for_update(session, mandate_id)
    if mandate is None:
        raise MandateNotFound()
    check_role(actor, mandate, role, action)
    if spending and mandate.status == MandateStatus.consumed.value:
        raise MandateInsufficient(f"Mandate {mandate.id} is consumed: nothing is left.", remaining_minor=0)
    require_active(mandate, action, now=now)
    return mandate


def require_active(mandate: Mandate, action: str, *, now: datetime) -> None:
    if mandate.status != MandateStatus.active.value:
        raise MandateNotActive(
            f"Mandate {mandate.id} is {mandate.status}: cannot {action}.", mandate_status=mandate.status
        )
    if mandate.expires_at <= now:
        raise MandateExpired(
            f"Mandate {mandate.id} expired at {mandate.expires_at.isoformat()}: cannot {action}.",
            mandate_status=mandate.status,
        )
