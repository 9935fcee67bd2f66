"""The mandates' invariants: each mandate's money equals its ledger account.

* ``mandate_accounts``: a mandate's account was credited exactly what it says
  was put in and debited exactly what it says was spent and returned (so its
  balance is its remaining), and its purchases and spends add up to its spent;
* ``mandate_payee_limits``: no payee was paid past its total limit, nor past
  its daily limit on any day, and its spends add up to what it says it got;
* ``mandate_closed_empty``: a mandate that has ended holds nothing.

The flows keep these true under the mandate's row lock; these checks find what
a hand-made change (a row edited in SQL) or a broken flow would leave."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant
from sika.mandates.states import FINAL_MANDATE

_ACCOUNTS = sa.text(
    """
    WITH paid AS (
        SELECT mandate_id, sum(amount_minor) AS total FROM mandate_purchases GROUP BY mandate_id
        UNION ALL
        SELECT mandate_id, sum(amount_minor) AS total FROM mandate_spends GROUP BY mandate_id
    ), sums AS (SELECT mandate_id, sum(total) AS spent FROM paid GROUP BY mandate_id)
    SELECT m.id, m.funded_minor, m.spent_minor, m.returned_minor, coalesce(s.spent, 0) AS paid,
           a.credits_posted, a.debits_posted, count(*) OVER () AS total
      FROM mandates m
      JOIN ledger_accounts a ON a.id = m.account_id
      LEFT JOIN sums s ON s.mandate_id = m.id
     WHERE a.credits_posted <> m.funded_minor
        OR a.debits_posted <> m.spent_minor + m.returned_minor
        OR a.debits_pending <> 0 OR a.credits_pending <> 0
        OR coalesce(s.spent, 0) <> m.spent_minor
     ORDER BY m.seq
     LIMIT :limit
    """
)

_LIMITS = sa.text(
    """
    WITH days AS (
        SELECT payee_id, day, sum(amount_minor) AS paid FROM mandate_spends GROUP BY payee_id, day
    ), totals AS (
        SELECT payee_id, sum(paid) AS paid, max(paid) AS most_in_a_day FROM days GROUP BY payee_id
    )
    SELECT p.id, p.mandate_id, p.spent_minor, p.daily_limit_minor, p.total_limit_minor,
           coalesce(t.paid, 0) AS paid, coalesce(t.most_in_a_day, 0) AS most_in_a_day,
           count(*) OVER () AS total
      FROM mandate_payees p
      LEFT JOIN totals t ON t.payee_id = p.id
     WHERE coalesce(t.paid, 0) <> p.spent_minor
        OR p.spent_minor > p.total_limit_minor
        OR coalesce(t.most_in_a_day, 0) > p.daily_limit_minor
     ORDER BY p.seq
     LIMIT :limit
    """
)

_CLOSED = sa.text(
    """
    SELECT m.id, m.status, a.credits_posted - a.debits_posted AS held, count(*) OVER () AS total
      FROM mandates m JOIN ledger_accounts a ON a.id = m.account_id
     WHERE m.status = ANY(:final) AND a.credits_posted - a.debits_posted <> 0
     ORDER BY m.seq
     LIMIT :limit
    """
)


def _total(rows: list[sa.RowMapping]) -> int:
    return int(rows[0]["total"]) if rows else 0


@invariant(
    name="mandate_accounts",
    domain="mandates",
    description="A mandate's account holds what was put in less what was spent and returned",
)
async def check_accounts(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_ACCOUNTS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="mandate_accounts",
            entity_type="mandate",
            entity_id=row["id"],
            message=(
                f"says funded {row['funded_minor']}, spent {row['spent_minor']} (its purchases and spends: "
                f"{row['paid']}), returned {row['returned_minor']}; its account was credited "
                f"{row['credits_posted']} and debited {row['debits_posted']}"
            ),
            data={"credits_posted": row["credits_posted"], "debits_posted": row["debits_posted"]},
        )
        for row in rows
    ]
    return _total(rows), breaches


@invariant(
    name="mandate_payee_limits",
    domain="mandates",
    description="No payee of a mandate was paid past its daily or total limit",
)
async def check_payee_limits(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_LIMITS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="mandate_payee_limits",
            entity_type="mandate",
            entity_id=row["mandate_id"],
            message=(
                f"payee {row['id']} says it got {row['spent_minor']} (its spends: {row['paid']}, at most "
                f"{row['most_in_a_day']} in a day); its limits are {row['daily_limit_minor']} a day and "
                f"{row['total_limit_minor']} in total"
            ),
            data={"payee_id": row["id"], "spent_minor": row["spent_minor"]},
        )
        for row in rows
    ]
    return _total(rows), breaches


@invariant(name="mandate_closed_empty", domain="mandates", description="A mandate that has ended holds nothing")
async def check_closed_empty(session: AsyncSession) -> tuple[int, list[Breach]]:
    params = {"final": sorted(status.value for status in FINAL_MANDATE), "limit": MAX_BREACHES_PER_CHECK}
    rows = list((await session.execute(_CLOSED, params)).mappings().all())
    breaches = [
        Breach(
            check="mandate_closed_empty",
            entity_type="mandate",
            entity_id=row["id"],
            message=f"is {row['status']}, yet its account holds {row['held']}",
            data={"status": row["status"], "held_minor": row["held"]},
        )
        for row in rows
    ]
    return _total(rows), breaches
