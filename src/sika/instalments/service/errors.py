"""The instalments' refusals, each with its stable code (French text in ``sika.api.messages_fr``)."""

from __future__ import annotations

from sika.core import errors


class PlanNotFound(errors.NotFound):
    """No such instalment plan."""

    code = "instalment_plan_not_found"


class InstalmentNotFound(errors.NotFound):
    """No such instalment."""

    code = "instalment_not_found"


class InstalmentsDoNotAddUp(errors.ValidationFailed):
    """The instalments' amounts must add up to the plan's total."""

    code = "instalments_do_not_add_up"


class PlanPartiesInvalid(errors.ValidationFailed):
    """The payer and the payee must be two parties of one platform."""

    code = "instalment_plan_parties_invalid"


class PlanPartyHasNoWallet(errors.Conflict):
    """The payer (and a payee party) need a wallet in the plan's currency: open it first."""

    code = "instalment_plan_party_has_no_wallet"


class PlanStateConflict(errors.Conflict):
    """The plan is not in a state that allows this action."""

    code = "instalment_plan_state_conflict"


class InstalmentNotPayable(errors.Conflict):
    """The instalment was cancelled or stopped: nothing is collected for it."""

    code = "instalment_not_payable"


class InstalmentAlreadyPaid(errors.Conflict):
    """The instalment is paid already."""

    code = "instalment_already_paid"


class InstalmentPaymentInFlight(errors.Conflict):
    """A payment of this instalment is in flight: wait for its outcome."""

    code = "instalment_payment_in_flight"


class InstalmentActionNotAllowed(errors.PermissionDenied):
    """This caller may not take this action on the instalment."""

    code = "instalment_action_not_allowed"
