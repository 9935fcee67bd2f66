"""Wallets: one per party and currency, a thin layer on the ledger.

One module per flow: ``wallets`` (opening one, reading its money, crediting
it), ``holds`` (placing, capturing, releasing; who owns a hold and who may
resolve it) and ``history`` (a wallet's movements, a party's wallets over a month). This
package names what the rest of Sika calls, so callers write
``wallets_service.<name>``.

Who may act: an API key with the route's scope, or the wallet's own party
with a party token (``check_owner``). A suspended party's wallets cannot be
debited: no hold placed, none captured; releases and credits still go.
Every movement of a wallet's money goes through here: other domains credit
a wallet with ``credit`` (or a ``credit_leg`` of their own journal entry) and
debit it through a hold they own, or, when they take the money at once into
an account of their own (an escrow's deposit), with ``debit_to_account``.
"""

from sika.wallets.models import WALLET_ACCOUNT_KIND
from sika.wallets.service.between import SameParty, pay_party, recipient_wallet
from sika.wallets.service.fees import FEE_ACCOUNT_KIND, FeeBalance, fee_account_id, platform_fees
from sika.wallets.service.history import HistoryEntry, HistoryPage, WalletMonth, history, party_months
from sika.wallets.service.hold_views import API_OWNER, HoldOwner, HoldView
from sika.wallets.service.holds import (
    HoldNotFound,
    HoldNotPlacedByCaller,
    HoldOwnedByApi,
    HoldOwnedByPayout,
    InvalidCapture,
    PartyCannotSetFee,
    capture_hold,
    capture_hold_to_account,
    get_hold,
    list_holds,
    place_hold,
    release_hold,
)
from sika.wallets.service.moves import (
    credit_leg,
    debit_to_account,
    ensure_fee_account,
    fee_leg,
    wallet_account_ids,
)
from sika.wallets.service.wallets import (
    TopUp,
    WalletExists,
    WalletNotFound,
    WalletView,
    credit,
    funding_account_id,
    get_wallet,
    list_party_wallets,
    open_wallet,
    owned_wallet,
    party_wallet_id,
    top_up,
)

__all__ = [
    "API_OWNER",
    "FEE_ACCOUNT_KIND",
    "WALLET_ACCOUNT_KIND",
    "FeeBalance",
    "HistoryEntry",
    "HistoryPage",
    "HoldNotFound",
    "HoldNotPlacedByCaller",
    "HoldOwnedByApi",
    "HoldOwnedByPayout",
    "HoldOwner",
    "HoldView",
    "InvalidCapture",
    "PartyCannotSetFee",
    "PartySummary",
    "SameParty",
    "TopUp",
    "WalletExists",
    "WalletMonth",
    "WalletNotFound",
    "WalletView",
    "capture_hold",
    "capture_hold_to_account",
    "credit",
    "credit_leg",
    "debit_to_account",
    "ensure_fee_account",
    "fee_account_id",
    "fee_leg",
    "funding_account_id",
    "get_hold",
    "get_wallet",
    "history",
    "list_holds",
    "list_party_wallets",
    "open_wallet",
    "owned_wallet",
    "party_months",
    "party_wallet_id",
    "pay_party",
    "place_hold",
    "platform_fees",
    "recipient_wallet",
    "release_hold",
    "top_up",
    "wallet_account_ids",
]
