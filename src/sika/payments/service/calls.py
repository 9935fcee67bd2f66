"""Storing what a flow's provider calls sent and got (``sika.providers.calls``), in the
transaction of the phase that follows them: the payment's timeline shows them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids
from sika.payments.models import Collection, Payout, ProviderCall
from sika.providers import calls


async def store(session: AsyncSession, notes: list[calls.Note], *, payment: Collection | Payout) -> None:
    """Write ``notes`` (already redacted) as ``payment``'s provider calls, on its platform."""
    entity_type = "collection" if isinstance(payment, Collection) else "payout"
    session.add_all(
        ProviderCall(
            id=ids.new_id("pcall"),
            platform_id=payment.platform_id,
            entity_type=entity_type,
            entity_id=payment.id,
            provider=made.provider,
            method=made.method,
            path=made.path,
            request=made.request,
            status_code=made.status_code,
            response=made.response,
            error=made.error,
            started_at=made.started_at,
            duration_ms=made.duration_ms,
        )
        for made in notes
    )
    notes.clear()
    await session.flush()
