"""Escrow with milestones: a client's money held in the escrow's own ledger
account, released to the beneficiary milestone by milestone (on approval or a
delay after delivery), refunded at a deadline, disputed and resolved."""
