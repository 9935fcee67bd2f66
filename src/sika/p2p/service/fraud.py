"""The fraud rules: each one the platform sets (``settings.fraud_rules``) is
checked against a movement about to be admitted, reading the sender's earlier
movements; a match raises an alert ``p2p.fraud.<rule>`` naming the rule, its
figures and the movements, and, if the rule blocks, refuses the movement. The
alerts of a blocked movement are written after its transaction rolls back
(``errors.RefusalWithRecord``), so an operator sees what was stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts import service as alerts_service
from sika.core import errors
from sika.p2p import repository
from sika.p2p.service.values import Outgoing
from sika.platforms import schemas as platform_schemas

ALERT_PREFIX = "p2p.fraud."


class BlockedByFraudRule(errors.RefusalWithRecord):
    """A fraud rule of the platform refused this movement; an operator was alerted."""

    code = "p2p_blocked_by_fraud_rule"


@dataclass(frozen=True)
class Hit:
    rule: str
    block: bool
    message: str
    figures: dict[str, Any]
    transfer_ids: list[str] = field(default_factory=list)


async def check(
    session: AsyncSession,
    *,
    outgoing: Outgoing,
    rules: platform_schemas.FraudRules,
    day_start: datetime,
    now: datetime,
) -> None:
    """Alert on every rule ``outgoing`` matches; refuse it if one of them blocks."""
    hits = [
        hit
        for hit in (
            await _new_recipient(session, outgoing, rules.new_recipient),
            await _burst(session, outgoing, rules.burst, now),
            await _large_amount(session, outgoing, rules.large_amount),
            await _many_recipients(session, outgoing, rules.many_recipients, day_start),
            await _after_certification(session, outgoing, rules.after_certification, now),
        )
        if hit is not None
    ]
    blocking = [hit.rule for hit in hits if hit.block]
    if not blocking:
        for hit in hits:
            await _alert(session, outgoing, hit, blocked=False)
        return

    async def record(fresh: AsyncSession) -> None:
        for hit in hits:
            await _alert(fresh, outgoing, hit, blocked=True)

    raise BlockedByFraudRule(
        f"The platform's fraud rule {', '.join(blocking)} refused this {outgoing.kind}; an operator was alerted.",
        record=record,
    )


async def _alert(session: AsyncSession, outgoing: Outgoing, hit: Hit, *, blocked: bool) -> None:
    await alerts_service.raise_alert(
        session,
        kind=f"{ALERT_PREFIX}{hit.rule}",
        severity="critical" if blocked else "warning",
        message=f"{hit.message}{' Refused.' if blocked else ''}",
        entity_type="transfer" if outgoing.kind == "transfer" else "hold",
        entity_id=outgoing.id,
        platform_id=outgoing.platform_id,
        data={
            "rule": hit.rule,
            "blocked": blocked,
            "figures": hit.figures,
            "transfer_ids": [*hit.transfer_ids, outgoing.id],
            "sender_party_id": outgoing.sender_party_id,
            "recipient_party_id": outgoing.recipient_party_id,
            "currency": outgoing.currency,
            "amount_minor": outgoing.amount_minor,
        },
    )


async def _new_recipient(
    session: AsyncSession, outgoing: Outgoing, rule: platform_schemas.NewRecipientRule | None
) -> Hit | None:
    if rule is None or outgoing.amount_minor <= rule.above_minor:
        return None
    if await repository.has_sent_to(
        session, sender_party_id=outgoing.sender_party_id, recipient_party_id=outgoing.recipient_party_id
    ):
        return None
    return Hit(
        rule="new_recipient",
        block=rule.block,
        message=(
            f"First {outgoing.kind} of {outgoing.sender_party_id} to {outgoing.recipient_party_id}:"
            f" {outgoing.amount_minor} above {rule.above_minor}."
        ),
        figures={"amount_minor": outgoing.amount_minor, "above_minor": rule.above_minor},
    )


async def _burst(
    session: AsyncSession, outgoing: Outgoing, rule: platform_schemas.BurstRule | None, now: datetime
) -> Hit | None:
    if rule is None:
        return None
    recent = await repository.sent_since_time(
        session, sender_party_id=outgoing.sender_party_id, since=now - timedelta(minutes=rule.minutes)
    )
    count = len(recent) + 1
    if count < rule.count:
        return None
    return Hit(
        rule="burst",
        block=rule.block,
        message=f"{count} movements by {outgoing.sender_party_id} within {rule.minutes} minutes.",
        figures={"count": count, "threshold": rule.count, "minutes": rule.minutes},
        transfer_ids=[movement.id for movement in recent],
    )


async def _large_amount(
    session: AsyncSession, outgoing: Outgoing, rule: platform_schemas.LargeAmountRule | None
) -> Hit | None:
    if rule is None:
        return None
    count, total = await repository.history(
        session, sender_party_id=outgoing.sender_party_id, currency=outgoing.currency
    )
    # amount > factor × (total / count), without rounding the average.
    if count < rule.min_history or outgoing.amount_minor * count <= rule.factor * total:
        return None
    return Hit(
        rule="large_amount",
        block=rule.block,
        message=(
            f"{outgoing.amount_minor} by {outgoing.sender_party_id} is above {rule.factor} times"
            f" its average of {total // count} over {count} movements."
        ),
        figures={
            "amount_minor": outgoing.amount_minor,
            "average_minor": total // count,
            "history": count,
            "factor": rule.factor,
        },
    )


async def _many_recipients(
    session: AsyncSession,
    outgoing: Outgoing,
    rule: platform_schemas.ManyRecipientsRule | None,
    day_start: datetime,
) -> Hit | None:
    if rule is None:
        return None
    today = await repository.sent_since_time(session, sender_party_id=outgoing.sender_party_id, since=day_start)
    recipients = {movement.recipient_party_id for movement in today} | {outgoing.recipient_party_id}
    if len(recipients) < rule.recipients:
        return None
    return Hit(
        rule="many_recipients",
        block=rule.block,
        message=f"{outgoing.sender_party_id} has sent to {len(recipients)} distinct recipients today.",
        figures={"recipients": len(recipients), "threshold": rule.recipients},
        transfer_ids=[movement.id for movement in today],
    )


async def _after_certification(
    session: AsyncSession, outgoing: Outgoing, rule: platform_schemas.AfterCertificationRule | None, now: datetime
) -> Hit | None:
    if rule is None:
        return None
    changed_at = await repository.last_certified_at(session, [outgoing.sender_party_id, outgoing.recipient_party_id])
    if changed_at is None or now - changed_at >= timedelta(minutes=rule.minutes):
        return None
    return Hit(
        rule="after_certification",
        block=rule.block,
        message=(
            f"{outgoing.kind.capitalize()} between {outgoing.sender_party_id} and {outgoing.recipient_party_id}"
            f" {int((now - changed_at).total_seconds())} seconds after a certification change."
        ),
        figures={"certified_at": changed_at.isoformat(), "minutes": rule.minutes},
    )
