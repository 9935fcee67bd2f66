"""Escrow: a client's money held for a beneficiary in the escrow's own ledger
account, paid out milestone by milestone.

One module per flow: ``escrows`` (create, read, fund, cancel), ``collected``
(funding by mobile money or card), ``milestones`` (deliver, approve, dispute,
resolve, and paying one out), ``payout`` (a release's auto-payout), ``due``
(what the minute job releases and refunds), ``queue`` (what operators watch),
``proven`` (released on proof of delivery); beside them ``access`` (who may see and do
what, the locked reads), ``announce`` (events and audit rows) and ``errors``.
This package names what the rest of Sika calls: ``escrow_service.<name>``.
docs/escrow.md tells it for users."""

from sika.escrow.models import ESCROW_ACCOUNT_KIND
from sika.escrow.service.access import EscrowView
from sika.escrow.service.collected import fund_by_collection
from sika.escrow.service.due import DUE_BATCH_SIZE, Settled, settle_due
from sika.escrow.service.errors import (
    AutoPayoutPhoneRequired,
    DepositExceedsRemaining,
    EscrowActionNotAllowed,
    EscrowFeeTooHigh,
    EscrowNotFound,
    EscrowPartiesInvalid,
    EscrowPartyHasNoWallet,
    EscrowStateConflict,
    MilestoneDeadlinePassed,
    MilestoneNotFound,
    MilestonesDoNotAddUp,
    MilestoneStateConflict,
    ResolutionDoesNotAddUp,
)
from sika.escrow.service.escrows import cancel_escrow, create_escrow, fund_escrow, get_escrow, list_escrows, split_fee
from sika.escrow.service.milestones import approve, deliver, dispute, resolve
from sika.escrow.service.payout import AUTO_PAYOUT_TASK, pay_out
from sika.escrow.service.proven import (
    LockedMilestone,
    lock_milestone,
    release_proven,
    require_delivered,
    set_proof_required,
)
from sika.escrow.service.queue import DUE_SOON_SECONDS, QUEUE_SHOWN, OperatorQueue, QueuedMilestone, operator_queue

__all__ = [
    "AUTO_PAYOUT_TASK",
    "DUE_BATCH_SIZE",
    "DUE_SOON_SECONDS",
    "ESCROW_ACCOUNT_KIND",
    "QUEUE_SHOWN",
    "AutoPayoutPhoneRequired",
    "DepositExceedsRemaining",
    "EscrowActionNotAllowed",
    "EscrowFeeTooHigh",
    "EscrowNotFound",
    "EscrowPartiesInvalid",
    "EscrowPartyHasNoWallet",
    "EscrowStateConflict",
    "EscrowView",
    "LockedMilestone",
    "MilestoneDeadlinePassed",
    "MilestoneNotFound",
    "MilestoneStateConflict",
    "MilestonesDoNotAddUp",
    "OperatorQueue",
    "QueuedMilestone",
    "ResolutionDoesNotAddUp",
    "Settled",
    "approve",
    "cancel_escrow",
    "create_escrow",
    "deliver",
    "dispute",
    "fund_by_collection",
    "fund_escrow",
    "get_escrow",
    "list_escrows",
    "lock_milestone",
    "operator_queue",
    "pay_out",
    "release_proven",
    "require_delivered",
    "resolve",
    "set_proof_required",
    "settle_due",
    "split_fee",
]
