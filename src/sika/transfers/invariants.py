"""The transfers' invariant: each transfer's row matches its ledger entry.

* ``transfers_ledger``: the ledger holds the transfer's first leg (its id)
  from the sender's wallet account to the recipient's, of the amount less
  the fee, and a fee leg (``<id>.fee``) exactly when there is a fee, of the
  fee, from the sender's wallet account.

The flow writes both in one transaction; this finds what a hand-made change
or a broken flow would leave."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant

_LEDGER = sa.text(
    """
    SELECT t.id, t.amount_minor, t.fee_minor, p.amount_minor AS paid, f.amount_minor AS fee,
           count(*) OVER () AS total
      FROM transfers t
      JOIN wallets s ON s.id = t.sender_wallet_id
      JOIN wallets r ON r.id = t.recipient_wallet_id
      LEFT JOIN ledger_transfers p ON p.id = t.id AND p.kind = 'posted'
           AND p.debit_account_id = s.account_id AND p.credit_account_id = r.account_id
      LEFT JOIN ledger_transfers f ON f.id = t.id || '.fee' AND f.debit_account_id = s.account_id
     WHERE p.amount_minor IS DISTINCT FROM t.amount_minor - t.fee_minor
        OR (t.fee_minor > 0 AND f.amount_minor IS DISTINCT FROM t.fee_minor)
        OR (t.fee_minor = 0 AND f.id IS NOT NULL)
     ORDER BY t.seq
     LIMIT :limit
    """
)


@invariant(
    name="transfers_ledger",
    domain="transfers",
    description="Each transfer paid its recipient the amount less the fee, and the platform the fee",
)
async def check_ledger(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_LEDGER, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="transfers_ledger",
            entity_type="transfer",
            entity_id=row["id"],
            message=(
                f"says {row['amount_minor']} with a fee of {row['fee_minor']}; the ledger paid the recipient"
                f" {row['paid']} and the platform {row['fee']}"
            ),
            data={"paid_minor": row["paid"], "fee_minor": row["fee"]},
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches
