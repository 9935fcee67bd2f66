"""Sending proofs of delivery: each file read (its type from its bytes, its pixels
within the limit, its EXIF), refused if a proof of the platform already has its
bytes, stored by its sha256, checked against the milestone's rule, and recorded
``approved`` (the milestone then released, in the same transaction) or
``pending_review`` with its reasons.

The escrow is locked before anything is read from the database (as every escrow
mutation locks it), so a proof and the escrow's minute job take turns: whichever
comes second finds the milestone released and moves nothing. Two requests
sending the same bytes at once for different escrows meet at the unique index on
(platform, sha256): the second waits for the first and is refused
``proof_duplicate`` once the first commits."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids
from sika.core.context import Actor
from sika.escrow import service as escrow_service
from sika.proofs import repository
from sika.proofs.models import Proof
from sika.proofs.service import announce
from sika.proofs.service.checks import evaluate
from sika.proofs.service.errors import ProofDuplicate
from sika.proofs.service.images import Photo, inspect
from sika.proofs.service.storage import ProofStore
from sika.proofs.states import ProofStatus

CHECKS_ACTOR = "system:proofs.checks"
"""Who decided a proof approved on its own."""
UNIQUE_SHA256 = "uq_proofs_platform_sha256"


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    clock_skew: timedelta
    """How far after now a photo's time may be (clocks disagree)."""


@dataclass(frozen=True)
class _Read:
    upload: Upload
    sha256: str
    photo: Photo


async def submit(
    session: AsyncSession,
    *,
    escrow_id: str,
    number: int,
    uploads: list[Upload],
    actor: Actor,
    now: datetime,
    store: ProofStore,
    limits: Limits,
) -> list[Proof]:
    """One proof per upload, for milestone ``number`` (delivered) of the escrow, sent by its
    beneficiary or the platform."""
    read = [await _read(upload, limits.max_pixels) for upload in uploads]
    held = await escrow_service.lock_milestone(
        session, escrow_id=escrow_id, number=number, actor=actor, as_beneficiary=True
    )
    escrow, milestone = held.escrow, held.milestone
    seen: set[str] = set()
    for one in read:
        if one.sha256 in seen:
            raise ProofDuplicate("The same photo was sent twice in this request.", escrow_id=escrow.id, number=number)
        seen.add(one.sha256)
        existing = await repository.by_sha256(session, platform_id=escrow.platform_id, sha256=one.sha256)
        if existing is not None:
            raise _duplicate(existing, actor, escrow.id)
    escrow_service.require_delivered(held, "send a proof of its delivery")
    for one in read:
        await store.put(one.sha256, one.upload.data)
    rule = await repository.rule(session, escrow.id, number)
    delivered_at = milestone.delivered_at or now
    proofs = []
    for one in read:
        outcome = evaluate(one.photo, rule, delivered_at=delivered_at, now=now, skew=limits.clock_skew)
        approved = outcome.passed
        proofs.append(
            Proof(
                id=ids.new_id("prf"),
                platform_id=escrow.platform_id,
                escrow_id=escrow.id,
                milestone_number=number,
                sha256=one.sha256,
                content_type=one.photo.content_type,
                size_bytes=len(one.upload.data),
                width=one.photo.width,
                height=one.photo.height,
                filename=one.upload.filename,
                status=(ProofStatus.approved if approved else ProofStatus.pending_review).value,
                checks=outcome.checks,
                reasons=outcome.reasons,
                exif=one.photo.exif,
                taken_at=one.photo.taken_at,
                latitude=one.photo.latitude,
                longitude=one.photo.longitude,
                distance_m=outcome.distance_m,
                submitted_by=actor.id,
                created_at=now,
                decided_by=CHECKS_ACTOR if approved else None,
                decided_at=now if approved else None,
            )
        )
    await _insert(session, proofs, actor=actor)
    await _announce_and_release(session, held, proofs, actor=actor, now=now)
    return proofs


async def _read(upload: Upload, max_pixels: int) -> _Read:
    # Decoding is CPU work: off the event loop, before any lock is taken.
    photo = await asyncio.to_thread(inspect, upload.data, max_pixels=max_pixels)
    return _Read(upload=upload, sha256=hashlib.sha256(upload.data).hexdigest(), photo=photo)


def _duplicate(existing: Proof, actor: Actor, escrow_id: str) -> ProofDuplicate:
    """Names the milestone that used the photo; a party is told another escrow's id only if it is this one."""
    if actor.is_party and existing.escrow_id != escrow_id:
        return ProofDuplicate("This photo already proved the delivery of a milestone of another escrow.")
    return ProofDuplicate(
        f"This photo already proved the delivery of milestone {existing.milestone_number} of escrow "
        f"{existing.escrow_id} (proof {existing.id}).",
        escrow_id=existing.escrow_id,
        number=existing.milestone_number,
        proof_id=existing.id,
    )


async def _insert(session: AsyncSession, proofs: list[Proof], *, actor: Actor) -> None:
    """Insert the proofs; a concurrent request that stored the same bytes first (it
    committed while this one waited on the unique index) makes this one a duplicate."""
    try:
        async with session.begin_nested():
            await repository.add(session, *proofs)
    except IntegrityError as refused:
        if UNIQUE_SHA256 not in str(refused.orig):
            raise
        for proof in proofs:
            existing = await repository.by_sha256(session, platform_id=proof.platform_id, sha256=proof.sha256)
            if existing is not None:
                raise _duplicate(existing, actor, proof.escrow_id) from None
        raise


async def _announce_and_release(
    session: AsyncSession, held: escrow_service.LockedMilestone, proofs: list[Proof], *, actor: Actor, now: datetime
) -> None:
    beneficiary = held.escrow.beneficiary_party_id
    for proof in proofs:
        await announce.told(session, proof, "proof.submitted", beneficiary=beneficiary, actor=actor, now=now)
    approved = [proof for proof in proofs if proof.status == ProofStatus.approved.value]
    if not approved:
        return
    # The first proof that passed releases the milestone; the others are approved beside it.
    await escrow_service.release_proven(session, held, actor=actor, now=now)
    approved[0].released = True
    await session.flush()
    for proof in approved:
        await announce.told(
            session, proof, "proof.approved", beneficiary=beneficiary, actor=actor, now=now, released=proof.released
        )
