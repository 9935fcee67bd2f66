"""Collections and payouts: the business rules, phased around provider calls.

One module per flow: ``collections``, ``payouts``, ``reconciliation`` (which
finishes both), ``flow`` for what they share, and ``credit_hooks`` for what
another domain does in the transaction that credits a collection. This
package names what the rest of Sika calls, so callers write
``payments_service.<name>``.

A flow that calls a provider never holds a transaction open across the call.
It runs in phases, each its own transaction:

    1. record      the collection ``initiated`` (a payout also places its hold), commit
    2. call        the provider, no transaction open; our id is its reference
    3. record      the provider's answer, under the row lock

A crash between 1 and 3 leaves the row in its recorded state; the
reconciliation job asks the provider and finishes it. Every way news arrives
(the provider's answer, a webhook, a reconciliation lookup) becomes one
``CollectionUpdate`` or ``PayoutUpdate`` applied by ``apply_collection_update``
/ ``apply_payout_update`` under the row's lock, so the state moves forward
only (``sika.payments.states``) and money moves once. Money into or out of a
wallet goes through the wallets service: a collection's credit, a payout's
hold, its capture, its release and its reversal's give-back.

A news item that would move a state backwards (a late or out-of-order
webhook) changes nothing. One that contradicts a final state (the provider
says succeeded, Sika has failed) changes nothing either and raises an alert:
an operator decides.

Row locks are taken in one order everywhere: webhook event, then the
collection or payout, then ledger accounts (ascending id, by the ledger).
"""

from sika.payments.service.actions import (
    UNREACHABLE,
    PaymentKind,
    Reconciled,
    reconcile_kind_now,
    reconcile_now,
    requeue_kind,
)
from sika.payments.service.collections import (
    Card,
    CollectionNotAwaitingOtp,
    CollectionUpdate,
    CustomerEmailRequired,
    apply_collection_update,
    collection_started_with,
    collection_update_from_error,
    collection_update_from_event,
    collection_update_from_result,
    create_collection,
    get_collection,
    list_collections,
    submit_collection_otp,
)
from sika.payments.service.credit_hooks import AfterCredit, on_credit, on_failure
from sika.payments.service.flow import (
    Applied,
    Clock,
    CollectionNotFound,
    IdempotencyKeyAlreadyUsed,
    MobileMoney,
    PayoutNotFound,
    Source,
    WalletCurrencyMismatch,
    WalletNotOfParty,
    clearing_account_id,
)
from sika.payments.service.payouts import (
    NoPayoutProvider,
    PayoutUpdate,
    Recorded,
    apply_payout_update,
    create_payout,
    get_payout,
    hold_owner,
    list_payouts,
    payout_update_from_error,
    payout_update_from_event,
    payout_update_from_result,
)
from sika.payments.service.reconciliation import (
    InFlight,
    NotOpen,
    ReconcileReport,
    Stuck,
    amount_per_day,
    created_per_day,
    in_flight,
    list_open,
    reconcile,
    reconcile_collection,
    reconcile_payout,
    requeue,
    stuck,
)

__all__ = [
    "UNREACHABLE",
    "AfterCredit",
    "Applied",
    "Card",
    "Clock",
    "CollectionNotAwaitingOtp",
    "CollectionNotFound",
    "CollectionUpdate",
    "CustomerEmailRequired",
    "IdempotencyKeyAlreadyUsed",
    "InFlight",
    "MobileMoney",
    "NoPayoutProvider",
    "NotOpen",
    "PaymentKind",
    "PayoutNotFound",
    "PayoutUpdate",
    "ReconcileReport",
    "Reconciled",
    "Recorded",
    "Source",
    "Stuck",
    "WalletCurrencyMismatch",
    "WalletNotOfParty",
    "amount_per_day",
    "apply_collection_update",
    "apply_payout_update",
    "clearing_account_id",
    "collection_started_with",
    "collection_update_from_error",
    "collection_update_from_event",
    "collection_update_from_result",
    "create_collection",
    "create_payout",
    "created_per_day",
    "get_collection",
    "get_payout",
    "hold_owner",
    "in_flight",
    "list_collections",
    "list_open",
    "list_payouts",
    "on_credit",
    "on_failure",
    "payout_update_from_error",
    "payout_update_from_event",
    "payout_update_from_result",
    "reconcile",
    "reconcile_collection",
    "reconcile_kind_now",
    "reconcile_now",
    "reconcile_payout",
    "requeue",
    "requeue_kind",
    "stuck",
    "submit_collection_otp",
]
