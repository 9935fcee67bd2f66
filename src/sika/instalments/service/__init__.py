"""Instalment plans: a payer's debt split into instalments, each paid exactly once.

One module per flow: ``plans`` (create, read, cancel, stop), ``amounts`` (the amount due,
manual reductions), ``paying`` (pay from the wallet or by a collection, and the collection
flow's handlers), ``advancing`` (what the job moves: due, overdue, reminders); beside them
``access`` (who may see and do what, the locked reads), ``announce`` (events and audit rows)
and ``errors``. This package names what the rest of Sika calls: ``instalments_service.<name>``.
docs/instalments.md tells it for users."""

from sika.instalments.service.access import PlanView
from sika.instalments.service.advancing import ADVANCE_BATCH_SIZE, Advanced, advance
from sika.instalments.service.amounts import Due, add_reduction, amount_due, percent_of
from sika.instalments.service.errors import (
    InstalmentActionNotAllowed,
    InstalmentAlreadyPaid,
    InstalmentNotFound,
    InstalmentNotPayable,
    InstalmentPaymentInFlight,
    InstalmentsDoNotAddUp,
    PlanNotFound,
    PlanPartiesInvalid,
    PlanPartyHasNoWallet,
    PlanStateConflict,
)
from sika.instalments.service.paying import InstalmentView, Payment, detail, pay
from sika.instalments.service.plans import (
    OVERVIEW_SHOWN,
    Overview,
    create_plan,
    end_instalment,
    end_plan,
    get_plan,
    list_plans,
    operator_overview,
    overdue_list,
)

__all__ = [
    "ADVANCE_BATCH_SIZE",
    "OVERVIEW_SHOWN",
    "Advanced",
    "Due",
    "InstalmentActionNotAllowed",
    "InstalmentAlreadyPaid",
    "InstalmentNotFound",
    "InstalmentNotPayable",
    "InstalmentPaymentInFlight",
    "InstalmentView",
    "InstalmentsDoNotAddUp",
    "Overview",
    "Payment",
    "PlanNotFound",
    "PlanPartiesInvalid",
    "PlanPartyHasNoWallet",
    "PlanStateConflict",
    "PlanView",
    "add_reduction",
    "advance",
    "amount_due",
    "create_plan",
    "detail",
    "end_instalment",
    "end_plan",
    "get_plan",
    "list_plans",
    "operator_overview",
    "overdue_list",
    "pay",
    "percent_of",
]
