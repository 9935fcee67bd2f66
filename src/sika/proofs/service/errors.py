"""The proofs' refusals, each with its stable code (French text in ``sika.api.messages_fr``)."""

from __future__ import annotations

from sika.core import errors


class ProofNotFound(errors.NotFound):
    """No such proof."""

    code = "proof_not_found"


class ProofRuleNotFound(errors.NotFound):
    """This milestone declares no proof rule."""

    code = "proof_rule_not_found"


class ProofNotAnImage(errors.ValidationFailed):
    """The file is not an image Sika can decode (JPEG, PNG or HEIC), or it is cut short."""

    code = "proof_not_an_image"


class ProofImageTooLarge(errors.ValidationFailed):
    """The image has more pixels than PROOF_MAX_PIXELS allows."""

    code = "proof_image_too_large"


class ProofFileTooLarge(errors.PayloadTooLarge):
    """The file is larger than PROOF_MAX_FILE_BYTES."""

    code = "proof_file_too_large"


class ProofFilesInvalid(errors.ValidationFailed):
    """Send between one and PROOF_MAX_FILES images, as multipart fields named files."""

    code = "proof_files_invalid"


class ProofDuplicate(errors.Conflict):
    """This photo was already sent as a proof: the same photo cannot prove two deliveries."""

    code = "proof_duplicate"


class ProofAlreadyDecided(errors.Conflict):
    """The proof was already approved or rejected."""

    code = "proof_already_decided"
