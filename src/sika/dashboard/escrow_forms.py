"""The dispute resolution form of the escrows page: what it posts, turned into the
escrow service's ``resolve`` (which checks the amounts and the milestone's state,
writes the audit row and the events, and moves the money in the same transaction)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from sika.core import clock, errors
from sika.core.context import Actor
from sika.escrow import service as escrow_service

MAX_NOTE_CHARACTERS = 1000


class FormRefused(Exception):
    """A dashboard form was refused (by the form, or by the domain it acts on): ``message``
    is the page's i18n key. The escrow, proof and merchant forms all raise it."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _minor(form: FormData, name: str) -> int:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip().isascii() or not value.strip().isdigit():
        raise FormRefused("error.escrow_resolution_invalid", 400)
    return int(value.strip())


async def resolve(session: AsyncSession, form: FormData, *, escrow_id: str, number: int, actor: Actor) -> None:
    """Resolve milestone ``number`` of the escrow as the form says; FormRefused otherwise."""
    note = form.get("note")
    if not isinstance(note, str) or not 1 <= len(note.strip()) <= MAX_NOTE_CHARACTERS:
        raise FormRefused("error.escrow_resolution_invalid", 400)
    try:
        await escrow_service.resolve(
            session,
            escrow_id=escrow_id,
            number=number,
            release_minor=_minor(form, "release_minor"),
            refund_minor=_minor(form, "refund_minor"),
            note=note.strip(),
            actor=actor,
            now=clock.now(),
        )
    except errors.NotFound:
        raise FormRefused("error.not_found", 404) from None
    except errors.SikaError as refused:
        raise FormRefused("error.escrow_resolution_refused", refused.status) from None
