"""Transfers between parties (``/v1/transfers``): one call moves money from a
party's wallet to another party's wallet in the same currency, less the
platform's fee, as one journal entry, under the platform's P2P rules
(``sika.p2p``, applied inside wallets so that captures obey them too)."""
