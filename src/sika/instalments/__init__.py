"""Instalment plans: a payer's debt to a payee split into instalments, each paid once,
by mobile money, card or the payer's wallet, for exactly the amount fixed when its
payment started (docs/instalments.md)."""
