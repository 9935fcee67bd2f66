"""Proofs of delivery over HTTP.

The platform sets a milestone's proof rule; the beneficiary's party token (or the
platform) sends photos as ``multipart/form-data`` (fields named ``files``); whoever
may read the escrow reads its proofs, and its parties, the platform and operators
download the files; an operator (``support`` or ``admin``) approves or rejects a
proof waiting for review. Sending proofs and deciding may release a milestone:
both require an Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response

from sika.api.deps import Session, authorize, get_settings
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.config import Settings
from sika.core.context import Actor
from sika.proofs import schemas
from sika.proofs import service as proofs_service
from sika.proofs.models import Proof

router = APIRouter(tags=["proofs"], route_class=UnitOfWorkRoute)
MILESTONE = "/escrows/{escrow_id}/milestones/{number}"
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
platform_or_party = authorize(Scope.platform, allow_party=True)
PlatformOrParty = Annotated[Actor, Depends(platform_or_party)]
PlatformOrPartyMoneyClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party, required=True))
]
operator = authorize(Scope.support)
Operator = Annotated[Actor, Depends(operator)]
OperatorMoneyClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(operator, required=True))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]
Downloader = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, allow_party=True))]
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic"}


def store(settings: Settings) -> proofs_service.ProofStore:
    return proofs_service.FolderStore(settings.proof_files_dir)


def proof_out(proof: Proof, actor: Actor) -> schemas.ProofOut:
    shown = proofs_service.sees_location(actor)
    location = None
    if shown and proof.latitude is not None and proof.longitude is not None:
        altitude = proof.exif.get("altitude_m")
        location = schemas.Location(
            latitude=proof.latitude, longitude=proof.longitude, altitude_m=altitude if altitude is not None else None
        )
    return schemas.ProofOut(
        **{name: getattr(proof, name) for name in schemas.ProofOut.model_fields if name not in ("location", "exif")},
        location=location,
        exif=dict(proof.exif) if shown else None,
    )


@router.post(f"{MILESTONE}/proof-rule", response_model=schemas.ProofRuleOut)
async def set_proof_rule(
    escrow_id: str,
    number: int,
    body: schemas.ProofRuleIn,
    session: Session,
    actor: Platform,
    claim: PlatformClaim,
) -> schemas.ProofRuleOut:
    """Set (or replace) the milestone's proof rule while it is open."""
    rule = await proofs_service.set_rule(
        session, escrow_id=escrow_id, number=number, body=body, actor=actor, now=clock.now()
    )
    return proofs_service.rule_out(rule)


@router.get(f"{MILESTONE}/proof-rule", response_model=schemas.ProofRuleOut)
async def get_proof_rule(escrow_id: str, number: int, session: Session, actor: ReaderOrParty) -> schemas.ProofRuleOut:
    rule = await proofs_service.get_rule(session, escrow_id=escrow_id, number=number, actor=actor)
    return proofs_service.rule_out(rule)


async def _uploads(files: list[UploadFile] | None, settings: Settings) -> list[proofs_service.Upload]:
    if not files or len(files) > settings.PROOF_MAX_FILES:
        raise proofs_service.ProofFilesInvalid(f"Send between 1 and {settings.PROOF_MAX_FILES} files.")
    uploads = []
    for file in files:
        data = await file.read(settings.PROOF_MAX_FILE_BYTES + 1)
        if len(data) > settings.PROOF_MAX_FILE_BYTES:
            raise proofs_service.ProofFileTooLarge(f"A file is larger than {settings.PROOF_MAX_FILE_BYTES} bytes.")
        uploads.append(proofs_service.Upload(filename=(file.filename or "")[:255], data=data))
    return uploads


@router.post(f"{MILESTONE}/proofs", status_code=201, response_model=schemas.ProofsSubmitted)
async def submit_proofs(
    request: Request,
    escrow_id: str,
    number: int,
    session: Session,
    actor: PlatformOrParty,
    claim: PlatformOrPartyMoneyClaim,
    files: Annotated[
        list[UploadFile] | None, File(description="JPEG, PNG or HEIC photos; the type is read from the bytes")
    ] = None,
) -> schemas.ProofsSubmitted:
    """One proof per photo for the delivered milestone: each checked against its rule,
    approved (and the milestone released) or left for an operator with its reasons."""
    settings = get_settings(request)
    # Whether the caller may see the escrow comes first: a 404 says nothing of the files.
    await proofs_service.readable_escrow(session, escrow_id=escrow_id, actor=actor)
    proofs = await proofs_service.submit(
        session,
        escrow_id=escrow_id,
        number=number,
        uploads=await _uploads(files, settings),
        actor=actor,
        now=clock.now(),
        store=store(settings),
        limits=proofs_service.Limits(
            max_pixels=settings.PROOF_MAX_PIXELS, clock_skew=timedelta(seconds=settings.PROOF_CLOCK_SKEW_SECONDS)
        ),
    )
    return schemas.ProofsSubmitted(data=[proof_out(proof, actor) for proof in proofs])


@router.get(f"{MILESTONE}/proofs", response_model=schemas.ProofPage)
async def list_proofs(
    escrow_id: str, number: int, session: Session, actor: ReaderOrParty, page: Page
) -> schemas.ProofPage:
    """The milestone's proofs, newest first."""
    proofs = await proofs_service.list_proofs(session, escrow_id=escrow_id, number=number, actor=actor, page=page)
    return schemas.ProofPage(
        data=[proof_out(proof, actor) for proof in proofs], next_cursor=next_cursor(list(proofs), page.limit)
    )


@router.get("/proofs/{proof_id}", response_model=schemas.ProofOut)
async def get_proof(proof_id: str, session: Session, actor: ReaderOrParty) -> schemas.ProofOut:
    return proof_out(await proofs_service.get_proof(session, proof_id=proof_id, actor=actor), actor)


@router.get(
    "/proofs/{proof_id}/file",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/heic": {}}}},
)
async def get_proof_file(request: Request, proof_id: str, session: Session, actor: Downloader) -> Response:
    """The photo as it was sent, for the escrow's parties, the platform and operators."""
    proof, data = await proofs_service.proof_file(
        session, proof_id=proof_id, actor=actor, store=store(get_settings(request))
    )
    return Response(
        content=data,
        media_type=proof.content_type,
        headers={
            "Content-Disposition": f'inline; filename="{proof.id}.{EXTENSIONS[proof.content_type]}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/proofs/{proof_id}/decision", response_model=schemas.ProofOut)
async def decide_proof(
    proof_id: str, body: schemas.DecisionIn, session: Session, actor: Operator, claim: OperatorMoneyClaim
) -> schemas.ProofOut:
    """Approve (the milestone is released) or reject (it stays delivered, unproven) a proof waiting for review."""
    proof = await proofs_service.decide(
        session, proof_id=proof_id, decision=body.decision, reason=body.reason, actor=actor, now=clock.now()
    )
    return proof_out(proof, actor)
