"""Another domain's part in a collection's success, in the transaction that credits its wallet.

A domain that starts collections for a purpose of its own (an escrow funded by mobile money)
registers a handler when it is imported (``on_credit``); the collection flow calls every handler
just before it credits a collection's wallet, whichever way the success arrived (the provider's
answer, a webhook, reconciliation, an OTP). A handler that knows the collection locks what it will
change (its own rows before any ledger account, as everywhere) and returns what to do once the
wallet is credited; None for a collection that is not its. What it does commits with the credit
or not at all; a refusal of its own must not escape (it would undo the credit): it keeps the
money in the wallet and says so.

A domain may also register a failure handler (``on_failure``): it runs in the transaction
that ends a collection ``failed`` or ``amount_mismatch`` (nothing credited), so what the domain
had reserved for it is let go with that outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.payments.models import Collection

AfterCredit = Callable[[], Awaitable[None]]
OnCredit = Callable[[AsyncSession, Collection, datetime, Actor], Awaitable[AfterCredit | None]]

OnFailure = Callable[[AsyncSession, Collection, datetime, Actor], Awaitable[None]]

_HANDLERS: dict[str, OnCredit] = {}
_FAILURE_HANDLERS: dict[str, OnFailure] = {}


def on_credit(name: str, handler: OnCredit) -> None:
    """Register ``handler`` under ``name`` (once: registering a name again replaces it)."""
    _HANDLERS[name] = handler


async def before_credit(session: AsyncSession, collection: Collection, *, now: datetime, actor: Actor) -> AfterCredit:
    """Let every handler lock what it needs; returns what they do after the credit."""
    afters = [after for handler in _HANDLERS.values() if (after := await handler(session, collection, now, actor))]

    async def after_credit() -> None:
        for after in afters:
            await after()

    return after_credit


def on_failure(name: str, handler: OnFailure) -> None:
    """Register ``handler`` under ``name`` for collections that end without a credit."""
    _FAILURE_HANDLERS[name] = handler


async def after_failure(session: AsyncSession, collection: Collection, *, now: datetime, actor: Actor) -> None:
    """Let every failure handler record what the collection's end means for it."""
    for handler in _FAILURE_HANDLERS.values():
        await handler(session, collection, now, actor)
