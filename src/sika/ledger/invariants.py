"""The ledger's invariants, each one aggregate SQL over the whole ledger.

* ``balanced``: per currency, Σ debits = Σ credits, posted and pending;
* ``account_totals``: every account's four totals equal the sums of its
  transfers (posted totals: posted transfers and posts of pending ones;
  pending totals: the pending transfers still open);
* ``balance_flags``: no account breaks its balance flag (the CHECK
  constraints should make this impossible; the check proves they are there);
* ``transfer_accounts``: every transfer's two accounts exist and are in its
  currency (the write path checks this under lock instead of a foreign key);
* ``resolutions``: every post, void or expiry matches the pending transfer it
  resolves;
* ``timeouts``: the expiry work list holds exactly the open pending
  transfers that have a timeout.

Each is one statement whose cost is a scan or two of the tables, so the
whole run stays a matter of seconds on millions of transfers; breaches are
reported up to ``MAX_BREACHES_PER_CHECK`` per check, with their count. Each
registers itself in ``sika.core.invariants``, which runs them with every
other domain's.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant

_BALANCED = sa.text(
    """
    SELECT currency,
           sum(debits_posted) AS debits_posted, sum(credits_posted) AS credits_posted,
           sum(debits_pending) AS debits_pending, sum(credits_pending) AS credits_pending
      FROM ledger_accounts
     GROUP BY currency
    HAVING sum(debits_posted) <> sum(credits_posted) OR sum(debits_pending) <> sum(credits_pending)
     ORDER BY currency
    """
)

# One scan of the transfers: each yields a debit leg and a credit leg; a
# pending transfer counts as pending while no resolution names it.
_ACCOUNT_TOTALS = sa.text(
    """
    WITH legs AS (
        SELECT v.account_id, sum(v.dp) AS dp, sum(v.cp) AS cp, sum(v.dpe) AS dpe, sum(v.cpe) AS cpe
          FROM (
            SELECT t.debit_account_id, t.credit_account_id,
                   CASE WHEN t.kind IN ('posted', 'post_pending') THEN t.amount_minor ELSE 0 END AS posted,
                   CASE WHEN t.kind = 'pending' AND r.pending_id IS NULL THEN t.amount_minor ELSE 0 END AS open
              FROM ledger_transfers t
              LEFT JOIN ledger_transfers r ON t.kind = 'pending' AND r.pending_id = t.id
             WHERE t.kind IN ('posted', 'post_pending', 'pending')
          ) x
          CROSS JOIN LATERAL (VALUES
              (x.debit_account_id, x.posted, 0::bigint, x.open, 0::bigint),
              (x.credit_account_id, 0::bigint, x.posted, 0::bigint, x.open)
          ) AS v(account_id, dp, cp, dpe, cpe)
         GROUP BY v.account_id
    ), compared AS (
        SELECT a.id,
               a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
               coalesce(l.dp, 0) AS dp, coalesce(l.cp, 0) AS cp,
               coalesce(l.dpe, 0) AS dpe, coalesce(l.cpe, 0) AS cpe
          FROM ledger_accounts a LEFT JOIN legs l ON l.account_id = a.id
    )
    SELECT id, debits_posted, credits_posted, debits_pending, credits_pending, dp, cp, dpe, cpe,
           count(*) OVER () AS total
      FROM compared
     WHERE (debits_posted, credits_posted, debits_pending, credits_pending) <> (dp, cp, dpe, cpe)
     ORDER BY id
     LIMIT :limit
    """
)

_BALANCE_FLAGS = sa.text(
    """
    SELECT id, debits_posted, credits_posted, debits_pending, credits_pending, count(*) OVER () AS total
      FROM ledger_accounts
     WHERE (debits_must_not_exceed_credits
            AND debits_posted::numeric + debits_pending > credits_posted)
        OR (credits_must_not_exceed_debits
            AND credits_posted::numeric + credits_pending > debits_posted)
     ORDER BY id
     LIMIT :limit
    """
)

_TRANSFER_ACCOUNTS = sa.text(
    """
    SELECT t.id, count(*) OVER () AS total
      FROM ledger_transfers t
      LEFT JOIN ledger_accounts d ON d.id = t.debit_account_id
      LEFT JOIN ledger_accounts c ON c.id = t.credit_account_id
     WHERE d.id IS NULL OR c.id IS NULL OR d.currency <> t.currency OR c.currency <> t.currency
     ORDER BY t.id
     LIMIT :limit
    """
)

_RESOLUTIONS = sa.text(
    """
    SELECT r.id, r.pending_id, count(*) OVER () AS total
      FROM ledger_transfers r
      LEFT JOIN ledger_transfers p ON p.id = r.pending_id
     WHERE r.pending_id IS NOT NULL
       AND (p.id IS NULL OR p.kind <> 'pending'
            OR p.debit_account_id <> r.debit_account_id OR p.credit_account_id <> r.credit_account_id
            OR p.currency <> r.currency OR r.amount_minor > p.amount_minor
            OR (r.kind <> 'post_pending' AND r.amount_minor <> p.amount_minor))
     ORDER BY r.id
     LIMIT :limit
    """
)

_TIMEOUTS = sa.text(
    """
    WITH open_with_timeout AS (
        SELECT p.id, p.expires_at
          FROM ledger_transfers p
         WHERE p.kind = 'pending' AND p.expires_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id)
    )
    SELECT coalesce(o.id, w.transfer_id) AS id, o.id IS NULL AS stale, count(*) OVER () AS total
      FROM open_with_timeout o
      FULL JOIN ledger_pending_timeouts w ON w.transfer_id = o.id AND w.expires_at = o.expires_at
     WHERE o.id IS NULL OR w.transfer_id IS NULL
     ORDER BY 1
     LIMIT :limit
    """
)


@invariant(name="balanced", domain="ledger", description="Per currency, total debits equal total credits")
async def check_balanced(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_BALANCED)).mappings().all()
    breaches = [
        Breach(
            check="balanced",
            entity_type="currency",
            entity_id=row["currency"],
            message=(
                f"debits {row['debits_posted']} posted / {row['debits_pending']} pending, "
                f"credits {row['credits_posted']} posted / {row['credits_pending']} pending"
            ),
            data={key: str(value) for key, value in row.items()},
        )
        for row in rows
    ]
    return len(breaches), breaches


@invariant(name="account_totals", domain="ledger", description="Every account's totals equal the sums of its transfers")
async def check_account_totals(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_ACCOUNT_TOTALS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all()
    breaches = [
        Breach(
            check="account_totals",
            entity_type="ledger_account",
            entity_id=row["id"],
            message=(
                "totals (debits/credits posted, debits/credits pending) "
                f"{row['debits_posted']}/{row['credits_posted']}/{row['debits_pending']}/"
                f"{row['credits_pending']} but its transfers sum to "
                f"{row['dp']}/{row['cp']}/{row['dpe']}/{row['cpe']}"
            ),
            data={key: str(value) for key, value in row.items() if key != "total"},
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches


@invariant(name="balance_flags", domain="ledger", description="No account breaks its balance flag")
async def check_balance_flags(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_BALANCE_FLAGS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all()
    breaches = [
        Breach(
            check="balance_flags",
            entity_type="ledger_account",
            entity_id=row["id"],
            message="breaks its balance flag",
            data={key: str(value) for key, value in row.items() if key != "total"},
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches


@invariant(name="transfer_accounts", domain="ledger", description="Every transfer's accounts exist, in its currency")
async def check_transfer_accounts(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_TRANSFER_ACCOUNTS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all()
    breaches = [
        Breach(
            check="transfer_accounts",
            entity_type="ledger_transfer",
            entity_id=row["id"],
            message="names an account that does not exist or is in another currency",
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches


@invariant(name="resolutions", domain="ledger", description="Every post, void or expiry matches its pending transfer")
async def check_resolutions(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_RESOLUTIONS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all()
    breaches = [
        Breach(
            check="resolutions",
            entity_type="ledger_transfer",
            entity_id=row["id"],
            message=f"does not match the pending transfer {row['pending_id']} it resolves",
            data={"pending_id": row["pending_id"]},
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches


@invariant(
    name="timeouts",
    domain="ledger",
    description="The expiry list holds exactly the open pending transfers with a timeout",
)
async def check_timeouts(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = (await session.execute(_TIMEOUTS, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all()
    breaches = [
        Breach(
            check="timeouts",
            entity_type="ledger_transfer",
            entity_id=row["id"],
            message=(
                "is on the expiry list but is not an open pending transfer with that timeout"
                if row["stale"]
                else "is an open pending transfer with a timeout missing from the expiry list"
            ),
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches
