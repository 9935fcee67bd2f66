"""The payments' invariants: each collection's and payout's money state matches the ledger.

* ``collection_credits``: a succeeded collection credited its wallet exactly once, with a
  posted transfer of its amount and currency onto the wallet's account; a collection that
  did not succeed credited nothing (no ``<collection id>.credit`` transfer exists for it);
* ``payout_holds``: a payout's hold is of its amount, out of its wallet's account, and
  resolved as its state says: still open while the payout is ``initiated`` or
  ``processing``, posted once it ``succeeded``, voided or expired once it ``failed``; a
  payout ``reversed`` after its success has its hold posted and its reversal transfer, one
  reversed before it its hold voided and no reversal transfer.

The flows keep these true under the row lock of the collection or payout; these checks
find what a hand-made change or a broken flow would leave, as the money rules want every
domain object's money state checked against its ledger account.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant
from sika.payments.states import CollectionStatus, PayoutStatus

_COLLECTION_CREDITS = sa.text(
    """
    SELECT c.id, c.status, count(*) OVER () AS total
      FROM payments_collections c
      JOIN wallets w ON w.id = c.wallet_id
      LEFT JOIN ledger_transfers t ON t.id = c.credit_transfer_id
     WHERE (c.status = :succeeded
            AND (t.id IS NULL OR t.kind <> 'posted' OR t.amount_minor <> c.amount_minor
                 OR t.currency <> c.currency OR t.credit_account_id <> w.account_id))
        OR (c.status <> :succeeded
            AND EXISTS (SELECT 1 FROM ledger_transfers x WHERE x.id = c.id || '.credit'))
     ORDER BY c.seq
     LIMIT :limit
    """
)

_PAYOUT_HOLDS = sa.text(
    """
    SELECT p.id, p.status, r.kind AS resolution, count(*) OVER () AS total
      FROM payments_payouts p
      JOIN wallets w ON w.id = p.wallet_id
      LEFT JOIN ledger_transfers h ON h.id = p.hold_id
      LEFT JOIN ledger_transfers r ON r.pending_id = p.hold_id
     WHERE h.id IS NULL OR h.kind <> 'pending' OR h.amount_minor <> p.amount_minor
        OR h.currency <> p.currency OR h.debit_account_id <> w.account_id
        OR (p.status IN (:initiated, :processing) AND r.id IS NOT NULL)
        OR (p.status = :succeeded AND r.kind IS DISTINCT FROM 'post_pending')
        OR (p.status = :failed AND r.kind IS DISTINCT FROM 'void_pending' AND r.kind IS DISTINCT FROM 'expire_pending')
        OR (p.status = :reversed AND NOT (
                (r.kind = 'post_pending' AND p.reversal_transfer_id IS NOT NULL)
             OR (r.kind IN ('void_pending', 'expire_pending') AND p.reversal_transfer_id IS NULL)))
        OR (p.status <> :reversed AND p.reversal_transfer_id IS NOT NULL)
     ORDER BY p.seq
     LIMIT :limit
    """
)


def _total(rows: list[sa.RowMapping]) -> int:
    return int(rows[0]["total"]) if rows else 0


@invariant(
    name="collection_credits",
    domain="payments",
    description="A succeeded collection credited its wallet once with its amount; any other credited nothing",
)
async def check_collection_credits(session: AsyncSession) -> tuple[int, list[Breach]]:
    params = {"succeeded": CollectionStatus.succeeded.value, "limit": MAX_BREACHES_PER_CHECK}
    rows = list((await session.execute(_COLLECTION_CREDITS, params)).mappings().all())
    breaches = [
        Breach(
            check="collection_credits",
            entity_type="collection",
            entity_id=row["id"],
            message=(
                "succeeded, but its wallet credit is missing or not of its amount, currency and wallet"
                if row["status"] == CollectionStatus.succeeded.value
                else f"is {row['status']}, yet a credit transfer exists for it"
            ),
            data={"status": row["status"]},
        )
        for row in rows
    ]
    return _total(rows), breaches


@invariant(
    name="payout_holds",
    domain="payments",
    description="A payout's hold is of its amount, on its wallet, and resolved as the payout's state says",
)
async def check_payout_holds(session: AsyncSession) -> tuple[int, list[Breach]]:
    params = {status.name: status.value for status in PayoutStatus} | {"limit": MAX_BREACHES_PER_CHECK}
    rows = list((await session.execute(_PAYOUT_HOLDS, params)).mappings().all())
    breaches = [
        Breach(
            check="payout_holds",
            entity_type="payout",
            entity_id=row["id"],
            message=(
                f"is {row['status']}, but its hold is missing, not of its amount or wallet, "
                f"or resolved as {row['resolution'] or 'nothing'}"
            ),
            data={"status": row["status"], "resolution": row["resolution"]},
        )
        for row in rows
    ]
    return _total(rows), breaches
