"""The wallets' invariants, checked over every wallet beside the ledger's.

* ``wallet_accounts``: every wallet's two accounts are of the wallet kinds,
  overdraft-protected, owned by its party, of its platform and in its
  currency (checked when the wallet is written; nothing in the database stops
  an account's owner or platform being rewritten afterwards, and an account
  of another platform would show the wallet's money to that platform);
* ``wallet_open_holds``: the open-holds list holds exactly the open pending
  transfers on wallet accounts. The database checks each wallet account's
  pending totals against this list at commit, and the ledger's
  ``account_totals`` checks them against the transfers: with this check, a
  wallet's held money is its open holds;
* ``wallet_hold_owners``: every hold out of a wallet has its owner row, and
  every owner row names a hold out of its own wallet.

The database refuses each of these breaches as it is written
(``sql/wallets.sql``); these checks prove the guards are there and find what
was written while they were not. Each scans the pending transfers once.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant
from sika.wallets.models import HOLDS_ACCOUNT_KIND, WALLET_ACCOUNT_KIND

_KINDS = {"wallet_kind": WALLET_ACCOUNT_KIND, "holds_kind": HOLDS_ACCOUNT_KIND}

_WALLET_ACCOUNTS = sa.text(
    """
    SELECT w.id, count(*) OVER () AS total
      FROM wallets w
      LEFT JOIN ledger_accounts a ON a.id = w.account_id
      LEFT JOIN ledger_accounts h ON h.id = w.holds_account_id
     WHERE a.id IS NULL OR h.id IS NULL
        OR a.kind <> :wallet_kind OR h.kind <> :holds_kind
        OR NOT a.debits_must_not_exceed_credits OR NOT h.debits_must_not_exceed_credits
        OR a.owner_type IS DISTINCT FROM 'party' OR a.owner_id IS DISTINCT FROM w.party_id
        OR h.owner_type IS DISTINCT FROM 'party' OR h.owner_id IS DISTINCT FROM w.party_id
        OR a.currency <> w.currency OR h.currency <> w.currency
        OR a.platform_id IS DISTINCT FROM w.platform_id OR h.platform_id IS DISTINCT FROM w.platform_id
     ORDER BY w.id
     LIMIT :limit
    """
)

# Each side of a pending transfer apart, so that both joins use the accounts' key.
_WALLET_OPEN_HOLDS = sa.text(
    """
    WITH open_pending AS (
        SELECT p.id, p.debit_account_id, p.credit_account_id
          FROM ledger_transfers p
         WHERE p.kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id)
    ), on_wallets AS (
        SELECT a.id AS account_id, o.id AS transfer_id
          FROM open_pending o JOIN ledger_accounts a ON a.id = o.debit_account_id
         WHERE a.kind IN (:wallet_kind, :holds_kind)
        UNION ALL
        SELECT a.id, o.id
          FROM open_pending o JOIN ledger_accounts a ON a.id = o.credit_account_id
         WHERE a.kind IN (:wallet_kind, :holds_kind)
    )
    SELECT coalesce(o.account_id, l.account_id) AS account_id, coalesce(o.transfer_id, l.transfer_id) AS transfer_id,
           o.transfer_id IS NULL AS stale, count(*) OVER () AS total
      FROM on_wallets o
      FULL JOIN wallet_open_holds l ON l.account_id = o.account_id AND l.transfer_id = o.transfer_id
     WHERE o.transfer_id IS NULL OR l.transfer_id IS NULL
     ORDER BY 1, 2
     LIMIT :limit
    """
)

_WALLET_HOLD_OWNERS = sa.text(
    """
    WITH holds AS (
        SELECT t.id, w.id AS wallet_id
          FROM ledger_transfers t JOIN wallets w ON w.account_id = t.debit_account_id
         WHERE t.kind = 'pending'
    )
    SELECT coalesce(h.id, o.id) AS id, coalesce(h.wallet_id, o.wallet_id) AS wallet_id, h.id IS NULL AS stray,
           count(*) OVER () AS total
      FROM holds h
      FULL JOIN wallet_holds o ON o.id = h.id AND o.wallet_id = h.wallet_id
     WHERE h.id IS NULL OR o.id IS NULL
     ORDER BY 1, 2
     LIMIT :limit
    """
)


@invariant(
    name="wallet_accounts",
    domain="wallets",
    description=(
        "Every wallet's two accounts are its party's, overdraft-protected, of the wallet kinds, in its currency"
    ),
)
async def check_wallet_accounts(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_WALLET_ACCOUNTS, {**_KINDS, "limit": MAX_BREACHES_PER_CHECK})).mappings().all()
    breaches = [
        Breach(
            check="wallet_accounts",
            entity_type="wallet",
            entity_id=row["id"],
            message="an account of it is missing, of another kind, party or currency, or not overdraft-protected",
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches


@invariant(
    name="wallet_open_holds",
    domain="wallets",
    description="The open-holds list holds exactly the open pending transfers on wallet accounts",
)
async def check_wallet_open_holds(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_WALLET_OPEN_HOLDS, {**_KINDS, "limit": MAX_BREACHES_PER_CHECK})).mappings().all()
    breaches = [
        Breach(
            check="wallet_open_holds",
            entity_type="ledger_account",
            entity_id=row["account_id"],
            message=(
                f"the open-holds list names {row['transfer_id']}, not an open pending transfer on it"
                if row["stale"]
                else f"its open pending transfer {row['transfer_id']} is missing from the open-holds list"
            ),
            data={"transfer_id": row["transfer_id"]},
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches


@invariant(
    name="wallet_hold_owners",
    domain="wallets",
    description="Every hold out of a wallet has its owner, and every owner names a hold out of its wallet",
)
async def check_wallet_hold_owners(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_WALLET_HOLD_OWNERS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all()
    breaches = [
        Breach(
            check="wallet_hold_owners",
            entity_type="hold",
            entity_id=row["id"],
            message=(
                f"has an owner row for wallet {row['wallet_id']} but is not a pending transfer out of it"
                if row["stray"]
                else f"is a pending transfer out of wallet {row['wallet_id']} without its owner row"
            ),
            data={"wallet_id": row["wallet_id"]},
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches
