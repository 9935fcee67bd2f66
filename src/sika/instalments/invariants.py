"""The instalments' invariants: each instalment paid exactly once, for exactly its final amount.

* ``instalment_paid_once``: a paid instalment has exactly one succeeded payment; any other
  has none;
* ``instalment_payment_amounts``: a succeeded payment moved exactly its final amount — one
  ledger transfer of that amount (none for a final of 0) and, when it was collected, a
  succeeded collection of that very amount.

The flows keep these true under the plan's and the instalment's row locks (and the unique
indexes on pending and succeeded payments); these checks find what a hand-made change or a
broken flow would leave."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant

_PAID_ONCE = sa.text(
    """
    WITH s AS (
        SELECT instalment_id, count(*) AS n FROM instalment_payments
         WHERE status = 'succeeded' GROUP BY instalment_id
    )
    SELECT i.id, i.status, coalesce(s.n, 0) AS succeeded, count(*) OVER () AS total
      FROM instalments i LEFT JOIN s ON s.instalment_id = i.id
     WHERE (i.status = 'paid') <> (coalesce(s.n, 0) = 1) OR coalesce(s.n, 0) > 1
     ORDER BY i.seq
     LIMIT :limit
    """
)

_AMOUNTS = sa.text(
    """
    SELECT p.id, p.instalment_id, p.final_minor, t.amount_minor AS moved,
           c.status AS collection_status, c.amount_minor AS collected,
           count(*) OVER () AS total
      FROM instalment_payments p
      LEFT JOIN ledger_transfers t ON t.id = p.transfer_id
      LEFT JOIN payments_collections c ON c.id = p.collection_id
     WHERE p.status = 'succeeded'
       AND ((p.final_minor = 0) <> (p.transfer_id IS NULL)
            OR (p.final_minor > 0 AND t.amount_minor IS DISTINCT FROM p.final_minor)
            OR (p.collection_id IS NOT NULL
                AND (c.status <> 'succeeded' OR c.amount_minor <> p.final_minor)))
     ORDER BY p.seq
     LIMIT :limit
    """
)


def _total(rows: list[sa.RowMapping]) -> int:
    return int(rows[0]["total"]) if rows else 0


@invariant(
    name="instalment_paid_once",
    domain="instalments",
    description="A paid instalment has exactly one succeeded payment; any other has none",
)
async def check_paid_once(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_PAID_ONCE, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="instalment_paid_once",
            entity_type="instalment",
            entity_id=row["id"],
            message=f"is {row['status']} with {row['succeeded']} succeeded payments",
            data={"status": row["status"], "succeeded": row["succeeded"]},
        )
        for row in rows
    ]
    return _total(rows), breaches


@invariant(
    name="instalment_payment_amounts",
    domain="instalments",
    description="A succeeded instalment payment moved exactly its final amount",
)
async def check_payment_amounts(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_AMOUNTS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="instalment_payment_amounts",
            entity_type="instalment",
            entity_id=row["instalment_id"],
            message=(
                f"payment {row['id']} of {row['final_minor']} moved {row['moved']} in the ledger; its collection "
                f"is {row['collection_status']} for {row['collected']}"
            ),
            data={"payment_id": row["id"], "final_minor": row["final_minor"], "moved_minor": row["moved"]},
        )
        for row in rows
    ]
    return _total(rows), breaches
