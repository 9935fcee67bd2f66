"""A proof of delivery for the worlds that walk every route: milestone ``number`` of an
escrow delivered, and a photo (a PNG of a random colour, so its bytes are its own) sent for it."""

from __future__ import annotations

import io
import secrets

import httpx
from PIL import Image

Headers = dict[str, str]


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), tuple(secrets.randbelow(256) for _ in range(3))).save(out, "PNG")
    return out.getvalue()


async def sent_proof(client: httpx.AsyncClient, headers: Headers, escrow_id: str, number: int = 1) -> str:
    """The id of a proof sent with ``headers`` (the platform's) for the delivered milestone; it waits for review."""
    response = await client.post(
        f"/v1/escrows/{escrow_id}/milestones/{number}/proofs",
        files=[("files", ("site.png", photo(), "image/png"))],
        headers={**headers, "Idempotency-Key": secrets.token_hex(16)},
    )
    assert response.status_code == 201, response.text
    proof_id: str = response.json()["data"][0]["id"]
    return proof_id
