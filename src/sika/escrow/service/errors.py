"""The escrow's refusals, each with its stable code (French text in ``sika.api.messages_fr``)."""

from __future__ import annotations

from sika.core import errors


class EscrowNotFound(errors.NotFound):
    """No such escrow."""

    code = "escrow_not_found"


class MilestoneNotFound(errors.NotFound):
    """The escrow has no milestone of this number."""

    code = "milestone_not_found"


class MilestonesDoNotAddUp(errors.ValidationFailed):
    """The milestones' amounts must add up to the escrow's amount."""

    code = "milestones_do_not_add_up"


class EscrowFeeTooHigh(errors.ValidationFailed):
    """The platform fee may not exceed the escrow's amount."""

    code = "escrow_fee_too_high"


class EscrowPartiesInvalid(errors.ValidationFailed):
    """The client and the beneficiary must be two parties of one platform."""

    code = "escrow_parties_invalid"


class EscrowPartyHasNoWallet(errors.Conflict):
    """Both parties need a wallet in the escrow's currency: open it first."""

    code = "escrow_party_has_no_wallet"


class EscrowActionNotAllowed(errors.PermissionDenied):
    """This party may not take this action on the escrow."""

    code = "escrow_action_not_allowed"


class EscrowStateConflict(errors.Conflict):
    """The escrow is not in a state that allows this action."""

    code = "escrow_state_conflict"


class MilestoneStateConflict(errors.Conflict):
    """The milestone is not in a state that allows this action."""

    code = "milestone_state_conflict"


class MilestoneDeadlinePassed(errors.Conflict):
    """The milestone's deliver_by deadline has passed: it is refunded to the client, not delivered."""

    code = "milestone_deadline_passed"


class DepositExceedsRemaining(errors.Conflict):
    """The deposit is more than the escrow still needs."""

    code = "deposit_exceeds_remaining"


class ResolutionDoesNotAddUp(errors.ValidationFailed):
    """release_minor and refund_minor must add up to the milestone's amount."""

    code = "resolution_does_not_add_up"


class AutoPayoutPhoneRequired(errors.ValidationFailed):
    """auto_payout needs a phone: send one, or record the beneficiary's phone first."""

    code = "auto_payout_phone_required"
