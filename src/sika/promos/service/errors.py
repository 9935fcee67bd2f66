"""The promos' domain errors. A code refused at checkout answers 422 with one
code per reason, so the caller (and its customer) knows which."""

from __future__ import annotations

from sika.core import errors


class PromoCodeInvalid(errors.ValidationFailed):
    """No promo code of this platform has this code."""

    code = "promo_code_invalid"


class PromoCodeInactive(errors.ValidationFailed):
    """This promo code has been deactivated."""

    code = "promo_code_inactive"


class PromoCodeNotYetValid(errors.ValidationFailed):
    """This promo code is not valid yet."""

    code = "promo_code_not_yet_valid"


class PromoCodeExpired(errors.ValidationFailed):
    """This promo code has expired."""

    code = "promo_code_expired"


class PromoCodeNotApplicable(errors.ValidationFailed):
    """This promo code does not apply here: another currency or another plan."""

    code = "promo_code_not_applicable"


class PromoCodeExhausted(errors.ValidationFailed):
    """This promo code has been used as many times as it may be."""

    code = "promo_code_exhausted"


class PromoCodeNotFound(errors.NotFound):
    """No such promo code."""

    code = "promo_code_not_found"


class PromoCodeExists(errors.Conflict):
    """The platform already has a promo code with this code (codes ignore case)."""

    code = "promo_code_exists"


class PromoCodeAlreadyRedeemed(errors.Conflict):
    """This promo code is already reserved or used for this subject."""

    code = "promo_code_already_redeemed"


class PromoRedemptionNotFound(errors.NotFound):
    """This promo code has no redemption for this subject."""

    code = "promo_redemption_not_found"


class PromoRedemptionStateConflict(errors.Conflict):
    """The redemption's state does not allow this: only a reserved redemption is confirmed or freed."""

    code = "promo_redemption_state_conflict"


class PromoCodeExpiryInvalid(errors.ValidationFailed):
    """expires_at must come after starts_at (now, when starts_at is left out)."""

    code = "promo_code_expiry_invalid"
