"""Usage mandates: a sender's money held for a beneficiary in the mandate's own
ledger account, spent only where the sender allowed.

One module per flow: ``catalogue`` (spend categories, merchants and their
certification), ``mandates`` (create, read, top up, name payees), ``paying``
(purchases at merchants, spends to payees within limits), ``ending``
(revocation and the minute job's expiry, each returning what is left once);
beside them ``access`` (who may see and do what, the locked reads),
``announce`` (events and audit rows), ``errors``, and ``overview`` (what
operators watch). This package names what
the rest of Sika calls: ``mandates_service.<name>``. docs/mandates.md tells it
for users."""

from sika.mandates.models import MANDATE_ACCOUNT_KIND
from sika.mandates.service.access import MandateView
from sika.mandates.service.announce import remaining
from sika.mandates.service.catalogue import (
    certify,
    create_category,
    create_merchant,
    get_merchant,
    list_categories,
    list_merchants,
)
from sika.mandates.service.ending import DUE_BATCH_SIZE, Expired, expire_due, revoke
from sika.mandates.service.errors import (
    AbovePurchaseMaximum,
    DailyLimitExceeded,
    MandateActionNotAllowed,
    MandateCatalogueUnknown,
    MandateExists,
    MandateExpired,
    MandateExpiryInvalid,
    MandateInsufficient,
    MandateNotActive,
    MandateNotFound,
    MandatePartiesInvalid,
    MandatePartyHasNoWallet,
    MerchantExists,
    MerchantNotAllowed,
    MerchantNotCertified,
    MerchantNotFound,
    PayeeExists,
    PayeeNotFound,
    SpendCategoryExists,
    SpendCategoryNotFound,
    TotalLimitExceeded,
)
from sika.mandates.service.mandates import add_payee, create_mandate, get_mandate, list_mandates, list_purchases, top_up
from sika.mandates.service.overview import OVERVIEW_SHOWN, ListedMerchant, Overview, operator_overview
from sika.mandates.service.paying import purchase, spend

__all__ = [
    "DUE_BATCH_SIZE",
    "MANDATE_ACCOUNT_KIND",
    "OVERVIEW_SHOWN",
    "AbovePurchaseMaximum",
    "DailyLimitExceeded",
    "Expired",
    "ListedMerchant",
    "MandateActionNotAllowed",
    "MandateCatalogueUnknown",
    "MandateExists",
    "MandateExpired",
    "MandateExpiryInvalid",
    "MandateInsufficient",
    "MandateNotActive",
    "MandateNotFound",
    "MandatePartiesInvalid",
    "MandatePartyHasNoWallet",
    "MandateView",
    "MerchantExists",
    "MerchantNotAllowed",
    "MerchantNotCertified",
    "MerchantNotFound",
    "Overview",
    "PayeeExists",
    "PayeeNotFound",
    "SpendCategoryExists",
    "SpendCategoryNotFound",
    "TotalLimitExceeded",
    "add_payee",
    "certify",
    "create_category",
    "create_mandate",
    "create_merchant",
    "expire_due",
    "get_mandate",
    "get_merchant",
    "list_categories",
    "list_mandates",
    "list_merchants",
    "list_purchases",
    "operator_overview",
    "purchase",
    "remaining",
    "revoke",
    "spend",
    "top_up",
]
