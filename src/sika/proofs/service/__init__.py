"""Proofs of delivery: photos checked for place, time and reuse that release escrow milestones.

One module per flow: ``rules`` (a milestone's proof rule), ``submit`` (sending
photos: read, checked, stored, approved or queued), ``decide`` (an operator's
decision), ``reading`` (who sees what, the review queue); beside them ``images``
(decoding and EXIF), ``checks`` (the geofence and the time window), ``storage``
(content-addressed files), ``announce`` (events and audit rows) and ``errors``.
The escrow's own moves go through ``escrow_service``; docs/proofs.md tells it for users."""

from sika.proofs.service.checks import haversine_m
from sika.proofs.service.decide import decide
from sika.proofs.service.errors import (
    ProofAlreadyDecided,
    ProofDuplicate,
    ProofFilesInvalid,
    ProofFileTooLarge,
    ProofImageTooLarge,
    ProofNotAnImage,
    ProofNotFound,
    ProofRuleNotFound,
)
from sika.proofs.service.reading import (
    REVIEW_QUEUE_SHOWN,
    Pending,
    get_proof,
    list_proofs,
    proof_file,
    readable_escrow,
    review_queue,
    sees_location,
)
from sika.proofs.service.rules import get_rule, rule_out, set_rule
from sika.proofs.service.storage import FolderStore, ProofStore
from sika.proofs.service.submit import CHECKS_ACTOR, Limits, Upload, submit

__all__ = [
    "CHECKS_ACTOR",
    "REVIEW_QUEUE_SHOWN",
    "FolderStore",
    "Limits",
    "Pending",
    "ProofAlreadyDecided",
    "ProofDuplicate",
    "ProofFileTooLarge",
    "ProofFilesInvalid",
    "ProofImageTooLarge",
    "ProofNotAnImage",
    "ProofNotFound",
    "ProofRuleNotFound",
    "ProofStore",
    "Upload",
    "decide",
    "get_proof",
    "get_rule",
    "haversine_m",
    "list_proofs",
    "proof_file",
    "readable_escrow",
    "review_queue",
    "rule_out",
    "sees_location",
    "set_rule",
    "submit",
]
