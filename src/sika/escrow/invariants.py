"""The escrow's invariants: each escrow's money equals its ledger account.

* ``escrow_accounts``: an escrow's account was credited exactly what it says was
  deposited and debited exactly what it says was released and refunded (so its
  balance is funded − released − refunded), and its milestones add up to it;
* ``escrow_milestones``: no milestone moved more than its amount, an ended one
  moved exactly its amount, one still open moved nothing, and its fee is within
  what it released;
* ``escrow_closed_empty``: an escrow that has ended holds nothing.

The flows keep these true under the escrow's row lock; these checks find what a
hand-made change (a row edited in SQL) or a broken flow would leave."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant
from sika.escrow.states import FINAL_ESCROW, FINAL_MILESTONE

_ACCOUNTS = sa.text(
    """
    WITH sums AS (
        SELECT escrow_id, sum(released_minor) AS released, sum(refunded_minor) AS refunded
          FROM escrow_milestones GROUP BY escrow_id
    )
    SELECT e.id, e.funded_minor, e.released_minor, e.refunded_minor,
           a.credits_posted, a.debits_posted, a.debits_pending, a.credits_pending,
           count(*) OVER () AS total
      FROM escrows e
      JOIN ledger_accounts a ON a.id = e.account_id
      LEFT JOIN sums s ON s.escrow_id = e.id
     WHERE a.credits_posted <> e.funded_minor
        OR a.debits_posted <> e.released_minor + e.refunded_minor
        OR a.debits_pending <> 0 OR a.credits_pending <> 0
        OR (e.status <> 'cancelled' AND (coalesce(s.released, 0) <> e.released_minor
                                         OR coalesce(s.refunded, 0) <> e.refunded_minor))
     ORDER BY e.seq
     LIMIT :limit
    """
)

_MILESTONES = sa.text(
    """
    SELECT m.escrow_id, m.number, m.status, m.amount_minor, m.released_minor, m.refunded_minor,
           count(*) OVER () AS total
      FROM escrow_milestones m
     WHERE m.released_minor + m.refunded_minor > m.amount_minor
        OR (m.status = ANY(:final) AND m.released_minor + m.refunded_minor <> m.amount_minor)
        OR (m.status <> ALL(:final) AND m.released_minor + m.refunded_minor <> 0)
        OR m.fee_paid_minor > m.released_minor OR m.fee_paid_minor > m.fee_minor
     ORDER BY m.escrow_id, m.number
     LIMIT :limit
    """
)

_CLOSED = sa.text(
    """
    SELECT e.id, e.status, a.credits_posted - a.debits_posted AS held, count(*) OVER () AS total
      FROM escrows e JOIN ledger_accounts a ON a.id = e.account_id
     WHERE e.status = ANY(:final) AND a.credits_posted - a.debits_posted <> 0
     ORDER BY e.seq
     LIMIT :limit
    """
)


def _total(rows: list[sa.RowMapping]) -> int:
    return int(rows[0]["total"]) if rows else 0


@invariant(
    name="escrow_accounts",
    domain="escrow",
    description="An escrow's account holds what was deposited less what was released and refunded",
)
async def check_accounts(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_ACCOUNTS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="escrow_accounts",
            entity_type="escrow",
            entity_id=row["id"],
            message=(
                f"says funded {row['funded_minor']}, released {row['released_minor']}, refunded "
                f"{row['refunded_minor']}; its account was credited {row['credits_posted']} and debited "
                f"{row['debits_posted']} (or its milestones say otherwise)"
            ),
            data={"credits_posted": row["credits_posted"], "debits_posted": row["debits_posted"]},
        )
        for row in rows
    ]
    return _total(rows), breaches


@invariant(
    name="escrow_milestones",
    domain="escrow",
    description="No milestone moved more than its amount; an ended one moved all of it, an open one nothing",
)
async def check_milestones(session: AsyncSession) -> tuple[int, list[Breach]]:
    params = {"final": sorted(status.value for status in FINAL_MILESTONE), "limit": MAX_BREACHES_PER_CHECK}
    rows = list((await session.execute(_MILESTONES, params)).mappings().all())
    breaches = [
        Breach(
            check="escrow_milestones",
            entity_type="escrow",
            entity_id=row["escrow_id"],
            message=(
                f"milestone {row['number']} is {row['status']} with amount {row['amount_minor']}, yet released "
                f"{row['released_minor']} and refunded {row['refunded_minor']}"
            ),
            data={"number": row["number"], "status": row["status"]},
        )
        for row in rows
    ]
    return _total(rows), breaches


@invariant(name="escrow_closed_empty", domain="escrow", description="An escrow that has ended holds nothing")
async def check_closed_empty(session: AsyncSession) -> tuple[int, list[Breach]]:
    params = {"final": sorted(status.value for status in FINAL_ESCROW), "limit": MAX_BREACHES_PER_CHECK}
    rows = list((await session.execute(_CLOSED, params)).mappings().all())
    breaches = [
        Breach(
            check="escrow_closed_empty",
            entity_type="escrow",
            entity_id=row["id"],
            message=f"is {row['status']}, yet its account holds {row['held']}",
            data={"status": row["status"], "held_minor": row["held"]},
        )
        for row in rows
    ]
    return _total(rows), breaches
