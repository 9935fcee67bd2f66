"""The mandates' refusals, each with its stable code (French text in ``sika.api.messages_fr``).

The refusals of a purchase or a spend are 409s whose code names the rule that
refused it; nothing is moved, and no row or event is written."""

from __future__ import annotations

from sika.core import errors


class SpendCategoryNotFound(errors.NotFound):
    """No such spend category."""

    code = "spend_category_not_found"


class SpendCategoryExists(errors.Conflict):
    """The platform already has a spend category with this code."""

    code = "spend_category_exists"


class MerchantNotFound(errors.NotFound):
    """No such merchant."""

    code = "merchant_not_found"


class MerchantExists(errors.Conflict):
    """This party is already a merchant."""

    code = "merchant_exists"


class MandateNotFound(errors.NotFound):
    """No such mandate."""

    code = "mandate_not_found"


class PayeeNotFound(errors.NotFound):
    """The mandate has no such payee."""

    code = "mandate_payee_not_found"


class PayeeExists(errors.Conflict):
    """This party is already a payee of the mandate."""

    code = "mandate_payee_exists"


class MandatePartiesInvalid(errors.ValidationFailed):
    """The sender and the beneficiary must be two parties of one platform."""

    code = "mandate_parties_invalid"


class MandateExpiryInvalid(errors.ValidationFailed):
    """expires_at must be in the future."""

    code = "mandate_expiry_invalid"


class MandateCatalogueUnknown(errors.ValidationFailed):
    """An allowed category or merchant is not in the platform's catalogue."""

    code = "mandate_catalogue_unknown"


class MandatePartyHasNoWallet(errors.Conflict):
    """The party needs a wallet in the mandate's currency: open it first."""

    code = "mandate_party_has_no_wallet"


class MandateExists(errors.Conflict):
    """The sender already has an active mandate for this beneficiary in this currency: top it up."""

    code = "mandate_exists"


class MandateActionNotAllowed(errors.PermissionDenied):
    """This party may not take this action on the mandate."""

    code = "mandate_action_not_allowed"


class MandateNotActive(errors.Conflict):
    """The mandate is no longer active."""

    code = "mandate_not_active"


class MandateExpired(errors.Conflict):
    """The mandate has expired: what was left goes back to the sender."""

    code = "mandate_expired"


class MerchantNotAllowed(errors.Conflict):
    """The mandate does not allow this merchant or its category."""

    code = "mandate_merchant_not_allowed"


class MerchantNotCertified(errors.Conflict):
    """The mandate pays only certified merchants, and this one is not."""

    code = "mandate_merchant_not_certified"


class AbovePurchaseMaximum(errors.Conflict):
    """The purchase is above the mandate's per-purchase maximum."""

    code = "mandate_purchase_above_maximum"


class MandateInsufficient(errors.Conflict):
    """The mandate has less left than this amount."""

    code = "mandate_insufficient"


class DailyLimitExceeded(errors.Conflict):
    """The spend would take the payee past its daily limit."""

    code = "mandate_daily_limit_exceeded"


class TotalLimitExceeded(errors.Conflict):
    """The spend would take the payee past its total limit."""

    code = "mandate_total_limit_exceeded"
