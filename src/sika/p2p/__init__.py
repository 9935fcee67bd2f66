"""The platform's rules for money between parties (P2P): its policy (``open``,
``allowlist``, ``certified``), each party's allowlist and certification level,
the limits per level, and the fraud rules that raise alerts.

**Why a domain of its own, below wallets.** Money reaches another party's
wallet by two paths: a transfer (``sika.transfers``) and the capture of a hold
to a destination wallet (``sika.wallets``). Both must ask the same rules, and
the one place both pass through is the wallets domain, where every debit of a
wallet is made. So wallets calls ``sika.p2p.service.admit`` in the function
that moves the money (``wallets.pay_party`` and ``wallets.capture_hold``), and
a new path cannot skip it without moving money outside wallets. Wallets sits
below escrow, payments and transfers (import-linter's layers), so the rules
must sit below wallets: they read parties, platforms' settings and alerts,
all lower still, and know nothing of wallets or the ledger. ``sika.transfers``
(the ``/v1/transfers`` routes and rows) sits above wallets and calls it.
"""
