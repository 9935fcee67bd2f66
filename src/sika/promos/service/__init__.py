"""The promos' service. A payment flow (instalments) calls, inside its own
transaction: ``check_code`` before it computes an amount, ``discount_minor`` to
compute the discount, ``reserve`` when its payment starts, then ``confirm`` or
``free`` with the payment's outcome. None of them commits.

The HTTP edge calls ``create_code``, ``get_code``, ``list_codes`` and
``deactivate``; the dashboard, ``state_of``."""

from sika.promos.service.codes import create_code, deactivate, get_code, list_codes, out, state_of
from sika.promos.service.errors import (
    PromoCodeAlreadyRedeemed,
    PromoCodeExhausted,
    PromoCodeExists,
    PromoCodeExpired,
    PromoCodeExpiryInvalid,
    PromoCodeInactive,
    PromoCodeInvalid,
    PromoCodeNotApplicable,
    PromoCodeNotFound,
    PromoCodeNotYetValid,
    PromoRedemptionNotFound,
    PromoRedemptionStateConflict,
)
from sika.promos.service.redemptions import check_code, confirm, discount_minor, free, reserve

__all__ = [
    "PromoCodeAlreadyRedeemed",
    "PromoCodeExhausted",
    "PromoCodeExists",
    "PromoCodeExpired",
    "PromoCodeExpiryInvalid",
    "PromoCodeInactive",
    "PromoCodeInvalid",
    "PromoCodeNotApplicable",
    "PromoCodeNotFound",
    "PromoCodeNotYetValid",
    "PromoRedemptionNotFound",
    "PromoRedemptionStateConflict",
    "check_code",
    "confirm",
    "create_code",
    "deactivate",
    "discount_minor",
    "free",
    "get_code",
    "list_codes",
    "out",
    "reserve",
    "state_of",
]
