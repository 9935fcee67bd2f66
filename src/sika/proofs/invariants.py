"""The proofs' invariants, beside the escrow's (which check the money itself):

* ``proof_releases``: a proof that released its milestone was approved, its
  milestone is released, and no other proof released it too;
* ``proof_required_held``: no milestone that requires a proof was released by
  the minute job without one (released with no approved proof, no client
  approval and no dispute — the job is the only other path to ``released``).

The flows keep these true under the escrow's row lock; these checks find what a
hand-made change or a broken flow would leave."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant

_RELEASES = sa.text(
    """
    SELECT p.id, p.escrow_id, p.milestone_number, p.status, m.status AS milestone_status,
           count(*) OVER () AS total
      FROM proofs p
      JOIN escrow_milestones m ON m.escrow_id = p.escrow_id AND m.number = p.milestone_number
     WHERE p.released AND (p.status <> 'approved' OR m.status <> 'released')
     ORDER BY p.seq
     LIMIT :limit
    """
)

_HELD = sa.text(
    """
    SELECT m.escrow_id, m.number, count(*) OVER () AS total
      FROM escrow_milestones m
     WHERE m.proof_required AND m.status = 'released' AND m.disputed_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM proofs p
                        WHERE p.escrow_id = m.escrow_id AND p.milestone_number = m.number AND p.released)
       AND NOT EXISTS (SELECT 1 FROM audit_events a
                        WHERE a.entity_type = 'escrow' AND a.entity_id = m.escrow_id
                          AND a.action = 'escrow.milestone_released' AND left(a.actor, 7) <> 'system:'
                          AND (a.data ->> 'number')::int = m.number)
     ORDER BY m.escrow_id, m.number
     LIMIT :limit
    """
)


def _total(rows: list[sa.RowMapping]) -> int:
    return int(rows[0]["total"]) if rows else 0


@invariant(
    name="proof_releases",
    domain="proofs",
    description="A proof that released its milestone was approved and its milestone is released",
)
async def check_releases(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_RELEASES, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="proof_releases",
            entity_type="proof",
            entity_id=row["id"],
            message=(
                f"released milestone {row['milestone_number']} of escrow {row['escrow_id']}, yet the proof is "
                f"{row['status']} and the milestone {row['milestone_status']}"
            ),
            data={"escrow_id": row["escrow_id"], "number": row["milestone_number"]},
        )
        for row in rows
    ]
    return _total(rows), breaches


@invariant(
    name="proof_required_held",
    domain="proofs",
    description="A milestone that requires a proof is released only by one, by its client or by an operator",
)
async def check_required_held(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_HELD, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="proof_required_held",
            entity_type="escrow",
            entity_id=row["escrow_id"],
            message=f"milestone {row['number']} requires a proof, yet was released without one",
            data={"number": row["number"]},
        )
        for row in rows
    ]
    return _total(rows), breaches
