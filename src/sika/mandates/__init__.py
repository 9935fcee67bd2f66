"""Usage mandates: money a sender puts aside for a beneficiary in the mandate's
own ledger account, spendable only at the merchants and payees the sender
allowed, paid to them directly, and returned to the sender at expiry or on
revocation."""
