"""The promos' invariants: a code is never used more than it may be.

* ``promo_codes_uses``: per code, the redemptions reserved or confirmed are no
  more than ``max_redemptions``, and ``uses`` equals their count.
* ``promo_codes_uses_per_party``: per code and party, they are no more than
  ``max_redemptions_per_party``.

``reserve`` counts under the code's row lock, so these hold under any
concurrency; this finds what a hand-made change or a broken flow would leave."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant

_USES = sa.text(
    """
    SELECT c.id, c.uses, c.max_redemptions, coalesce(r.held, 0) AS held, count(*) OVER () AS total
      FROM promo_codes c
      LEFT JOIN (SELECT promo_code_id, count(*) AS held FROM promo_redemptions
                  WHERE state IN ('reserved', 'confirmed') GROUP BY promo_code_id) r ON r.promo_code_id = c.id
     WHERE c.uses <> coalesce(r.held, 0) OR coalesce(r.held, 0) > c.max_redemptions
     ORDER BY c.seq
     LIMIT :limit
    """
)

_PER_PARTY = sa.text(
    """
    SELECT c.id, r.party_id, c.max_redemptions_per_party, count(*) AS held, count(*) OVER () AS total
      FROM promo_codes c
      JOIN promo_redemptions r ON r.promo_code_id = c.id AND r.state IN ('reserved', 'confirmed')
     WHERE c.max_redemptions_per_party IS NOT NULL
     GROUP BY c.id, c.seq, r.party_id, c.max_redemptions_per_party
    HAVING count(*) > c.max_redemptions_per_party
     ORDER BY c.seq, r.party_id
     LIMIT :limit
    """
)


async def _rows(session: AsyncSession, query: sa.TextClause) -> list[Any]:
    return list((await session.execute(query, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())


@invariant(
    name="promo_codes_uses",
    domain="promos",
    description="Each promo code's uses equal its reserved and confirmed redemptions, within its maximum",
)
async def check_uses(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = await _rows(session, _USES)
    breaches = [
        Breach(
            check="promo_codes_uses",
            entity_type="promo_code",
            entity_id=row["id"],
            message=(
                f"counts {row['uses']} uses of at most {row['max_redemptions']};"
                f" {row['held']} redemptions are reserved or confirmed"
            ),
            data={"uses": row["uses"], "held": row["held"], "max_redemptions": row["max_redemptions"]},
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches


@invariant(
    name="promo_codes_uses_per_party",
    domain="promos",
    description="No party holds more redemptions of a promo code than its maximum per party",
)
async def check_uses_per_party(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = await _rows(session, _PER_PARTY)
    breaches = [
        Breach(
            check="promo_codes_uses_per_party",
            entity_type="promo_code",
            entity_id=row["id"],
            message=(
                f"party {row['party_id']} holds {row['held']} redemptions of at most {row['max_redemptions_per_party']}"
            ),
            data={"party_id": row["party_id"], "held": row["held"]},
        )
        for row in rows
    ]
    return (int(rows[0]["total"]) if rows else 0), breaches
