"""Who may see an escrow and who may act on it, and the locked reads every
mutation starts with.

An API key with the route's scope acts for the platform (the router checks the
scope; the session's platform filter hides other platforms' escrows). A party
token reaches only the escrows its party is the client or the beneficiary of
(``not_owned_by_party`` otherwise, as for wallets), and acts only in its role:
the client funds, cancels, approves and disputes; the beneficiary delivers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.escrow import repository
from sika.escrow.models import Escrow, EscrowMilestone
from sika.escrow.service.errors import (
    EscrowActionNotAllowed,
    EscrowNotFound,
    EscrowStateConflict,
    MilestoneNotFound,
    MilestoneStateConflict,
)
from sika.escrow.states import MILESTONE_MOVES, EscrowStatus, MilestoneAction
from sika.parties import service as parties_service


class Role(StrEnum):
    client = "client"
    beneficiary = "beneficiary"


@dataclass(frozen=True)
class EscrowView:
    escrow: Escrow
    milestones: list[EscrowMilestone]


def check_reader(actor: Actor, escrow: Escrow) -> None:
    """A party token sees only the escrows its party is in."""
    if actor.is_party and actor.party_id not in (escrow.client_party_id, escrow.beneficiary_party_id):
        raise parties_service.NotOwnedByParty()


def check_role(actor: Actor, escrow: Escrow, role: Role, action: str) -> None:
    """A party token acts only as ``role``; an API key acts for the platform."""
    check_reader(actor, escrow)
    party = escrow.client_party_id if role is Role.client else escrow.beneficiary_party_id
    if actor.is_party and actor.party_id != party:
        raise EscrowActionNotAllowed(f"Only the {role.value} (or the platform) may {action} on escrow {escrow.id}.")


async def readable(session: AsyncSession, *, escrow_id: str, actor: Actor) -> Escrow:
    escrow = await repository.get(session, escrow_id)
    if escrow is None:
        raise EscrowNotFound()
    check_reader(actor, escrow)
    return escrow


async def locked(session: AsyncSession, *, escrow_id: str, actor: Actor, role: Role | None, action: str) -> Escrow:
    """The escrow, locked until the transaction ends, once ``actor`` may act on it as ``role``
    (None: an operator's action, whose scope the router checked)."""
    escrow = await repository.get_for_update(session, escrow_id)
    if escrow is None:
        raise EscrowNotFound()
    if role is None:
        check_reader(actor, escrow)
    else:
        check_role(actor, escrow, role, action)
    return escrow


def require_escrow(escrow: Escrow, wanted: EscrowStatus, action: str) -> None:
    if escrow.status != wanted.value:
        raise EscrowStateConflict(f"Escrow {escrow.id} is {escrow.status}: cannot {action}.", status=escrow.status)


async def locked_milestone(
    session: AsyncSession, escrow: Escrow, *, number: int, action: MilestoneAction
) -> tuple[EscrowMilestone, list[EscrowMilestone]]:
    """Milestone ``number`` of the (already locked) escrow, with all of them, locked
    in turn, once the escrow is funded and the milestone is in the state ``action``
    starts from (``MILESTONE_MOVES``)."""
    wanted = MILESTONE_MOVES[action]
    milestones = await repository.milestones(session, escrow.id, for_update=True)
    found = next((m for m in milestones if m.number == number), None)
    if found is None:
        raise MilestoneNotFound(f"Escrow {escrow.id} has no milestone {number}.")
    require_escrow(escrow, EscrowStatus.funded, f"{action.value} milestone {number}")
    if found.status != wanted.value:
        raise MilestoneStateConflict(
            f"Milestone {number} of escrow {escrow.id} is {found.status}: cannot {action.value} it.",
            status=found.status,
        )
    return found, milestones
